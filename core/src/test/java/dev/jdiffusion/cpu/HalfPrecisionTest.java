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
            for (int bits = 0; bits < count; bits++) {
                halves.setAtIndex(ValueLayout.JAVA_SHORT, bits, (short) bits);
            }
            float[] floats = new float[count];
            HalfPrecision.halfToFloat(halves, 0, floats, 0, count);
            for (int bits = 0; bits < count; bits++) {
                float expected = Float.float16ToFloat((short) bits);
                // NaNs keep their sign and stay NaN; the payload is not part of the contract
                int mask = Float.isNaN(expected) ? 0xFF800000 : -1;
                assertEquals(Float.floatToRawIntBits(expected) & mask, Float.floatToRawIntBits(floats[bits]) & mask,
                        "half " + bits);
            }
            // from an odd offset into a later place, a count that is not a whole vector, the rest untouched
            float[] some = new float[10];
            some[0] = 41f;
            some[9] = 42f;
            HalfPrecision.halfToFloat(halves, 2 * 1001 + 2, some, 1, 7);
            assertEquals(41f, some[0]);
            assertEquals(Float.float16ToFloat((short) 1002), some[1]);
            assertEquals(Float.float16ToFloat((short) 1008), some[7]);
            assertEquals(0f, some[8]);
            assertEquals(42f, some[9]);
        }
    }

    @Test
    void everyBfloat16ValueWidensExactly() {
        int count = 1 << 16;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment halves = arena.allocate(count * 2L);
            for (int bits = 0; bits < count; bits++) {
                halves.setAtIndex(ValueLayout.JAVA_SHORT, bits, (short) bits);
            }
            float[] floats = new float[count];
            HalfPrecision.bfloat16ToFloat(halves, 0, floats, 0, count - 3);
            for (int bits = 0; bits < count - 3; bits++) {
                assertEquals(bits << 16, Float.floatToRawIntBits(floats[bits]), "bf16 " + bits);
            }
            assertEquals(0, Float.floatToRawIntBits(floats[count - 1]), "past the count");
        }
    }
}
