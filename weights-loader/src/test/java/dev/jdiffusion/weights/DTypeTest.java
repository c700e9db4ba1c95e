package dev.jdiffusion.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class DTypeTest {
    private static float bits(int bits) {
        return Float.intBitsToFloat(bits);
    }

    @Test
    void bfloat16RoundsToNearestEvenAsTorchDoes() {
        assertEquals((short) 0x3F80, DType.bfloat16Bits(1.0f));
        assertEquals((short) 0x3F80, DType.bfloat16Bits(bits(0x3F808000)), "a tie goes to the even 0x3F80");
        assertEquals((short) 0x3F82, DType.bfloat16Bits(bits(0x3F818000)), "a tie goes to the even 0x3F82");
        assertEquals((short) 0x3F81, DType.bfloat16Bits(bits(0x3F808001)), "past the tie, up");
        assertEquals((short) 0x3F80, DType.bfloat16Bits(bits(0x3F807FFF)), "short of the tie, down");
        assertEquals((short) 0xBF81, DType.bfloat16Bits(bits(0xBF808001)), "negative values by their magnitude");
        assertEquals((short) 0x8000, DType.bfloat16Bits(-0.0f));
        assertEquals((short) 0x7F80, DType.bfloat16Bits(Float.MAX_VALUE), "too large for bfloat16: infinity");
        assertEquals((short) 0xFF80, DType.bfloat16Bits(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x0000, DType.bfloat16Bits(Float.MIN_VALUE), "the smallest subnormal rounds to zero");
        assertEquals((short) 0x7FC0, DType.bfloat16Bits(bits(0x7F800001)), "a NaN becomes the quiet NaN");
        assertEquals((short) 0x7FC0, DType.bfloat16Bits(bits(0xFFFFFFFF)));
    }

    @Test
    void roundingReadsTheRoundedValueBack() {
        float third = 1f / 3;
        assertEquals(Float.float16ToFloat(Float.floatToFloat16(third)), DType.F16.round(third));
        assertEquals(bits(0x3EAB0000), DType.BF16.round(third), "0x3EAAAAAB rounds up to 0x3EAB");
        assertEquals(third, DType.F32.round(third));
        assertEquals(third, DType.F64.round(third));
        assertEquals(Float.POSITIVE_INFINITY, DType.F16.round(70000f), "past F16's largest finite value");
        assertThrows(UnsupportedOperationException.class, () -> DType.I32.round(1f));
    }
}
