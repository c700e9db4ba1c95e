package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class VectorRegistersTest {
    @Test
    void thePropertyOverridesTheGuessAndRefusesOtherCounts() {
        String before = System.getProperty(KernelChoice.REGISTERS_PROPERTY);
        try {
            System.setProperty(KernelChoice.REGISTERS_PROPERTY, "16");
            assertTrue(VectorKernels.sixteenVectorRegisters());
            System.setProperty(KernelChoice.REGISTERS_PROPERTY, " 32 ");
            assertFalse(VectorKernels.sixteenVectorRegisters());
            System.setProperty(KernelChoice.REGISTERS_PROPERTY, "24");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    VectorKernels::sixteenVectorRegisters);
            assertEquals("-Djdiffusion.vectorRegisters=24: expected 16 or 32", e.getMessage());
        } finally {
            if (before == null) {
                System.clearProperty(KernelChoice.REGISTERS_PROPERTY);
            } else {
                System.setProperty(KernelChoice.REGISTERS_PROPERTY, before);
            }
        }
    }

    @Test
    void theTilesFollowTheRegisters() {
        boolean sixteen = VectorKernels.sixteenVectorRegisters();
        assertEquals(sixteen, KernelChoice.SIXTEEN_VECTOR_REGISTERS);
        assertEquals(sixteen ? 4 : 6, GemmLayout.MR);
        if (System.getProperty(KernelChoice.REGISTERS_PROPERTY) == null) {
            // the guess: only x86 below AVX-512 has sixteen
            boolean x86 = System.getProperty("os.arch").matches("amd64|x86_64|x86|i386");
            assertEquals(x86 && VectorKernels.preferredFloatLanes() < 16, sixteen);
        }
    }
}
