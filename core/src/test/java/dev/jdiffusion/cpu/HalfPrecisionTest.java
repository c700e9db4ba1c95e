package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class HalfPrecisionTest {

    @Test
    void everyHalfValueWidensExactly() {
        int count = 1 << 16;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment halves = arena.allocate(count * 2L + 2);
            MemorySegment floats = arena.allocate(count * 4L + 4);
            for (int bits = 0; bits < count; bits++) {
                halves.setAtIndex(ValueLayout.JAVA_SHORT, bits, (short) bits);
            }
            // an odd count also exercises the scalar tail
            HalfPrecision.halfToFloat(halves, floats, count);
            for (int bits = 0; bits < count; bits++) {
                float expected = Float.float16ToFloat((short) bits);
                float actual = floats.getAtIndex(ValueLayout.JAVA_FLOAT, bits);
                assertEquals(Float.floatToRawIntBits(expected) & (Float.isNaN(expected) ? 0xFF800000 : -1),
                        Float.floatToRawIntBits(actual) & (Float.isNaN(expected) ? 0xFF800000 : -1), "half " + bits);
            }
            HalfPrecision.halfToFloat(halves.asSlice(2), floats, 7);
            assertEquals(Float.float16ToFloat((short) 7), floats.getAtIndex(ValueLayout.JAVA_FLOAT, 6));
        }
    }

    @Test
    void everyBfloat16ValueWidensExactly() {
        int count = 1 << 16;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment halves = arena.allocate(count * 2L);
            MemorySegment floats = arena.allocate(count * 4L);
            for (int bits = 0; bits < count; bits++) {
                halves.setAtIndex(ValueLayout.JAVA_SHORT, bits, (short) bits);
            }
            HalfPrecision.bfloat16ToFloat(halves, floats, count - 3);
            for (int bits = 0; bits < count - 3; bits++) {
                assertEquals(bits << 16, Float.floatToRawIntBits(floats.getAtIndex(ValueLayout.JAVA_FLOAT, bits)), "bf16 " + bits);
            }
        }
    }
}
