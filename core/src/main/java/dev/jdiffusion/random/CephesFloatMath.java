package dev.jdiffusion.random;

/**
 * The single-precision {@code log} and {@code sincos} of {@code avx_mathfun.h} (Cephes polynomials),
 * which torch's AVX2 {@code randn} uses for its Box-Muller transform, emulated lane by lane in float
 * arithmetic with the same operation order. Which multiply-adds are fused follows the compiled torch
 * kernel (the compiler fused the polynomial steps, not the range reduction nor the final corrections);
 * with exactly this choice every sample of the rng fixtures comes out bit for bit.
 */
final class CephesFloatMath {
    private static final float SQRTHF = 0.707106781186547524f;
    private static final float LOG_P0 = 7.0376836292E-2f;
    private static final float LOG_P1 = -1.1514610310E-1f;
    private static final float LOG_P2 = 1.1676998740E-1f;
    private static final float LOG_P3 = -1.2420140846E-1f;
    private static final float LOG_P4 = +1.4249322787E-1f;
    private static final float LOG_P5 = -1.6668057665E-1f;
    private static final float LOG_P6 = +2.0000714765E-1f;
    private static final float LOG_P7 = -2.4999993993E-1f;
    private static final float LOG_P8 = +3.3333331174E-1f;
    private static final float LOG_Q1 = -2.12194440e-4f;
    private static final float LOG_Q2 = 0.693359375f;

    private static final float FOPI = 1.27323954473516f;
    private static final float DP1 = -0.78515625f;
    private static final float DP2 = -2.4187564849853515625e-4f;
    private static final float DP3 = -3.77489497744594108e-8f;
    private static final float SINCOF_P0 = -1.9515295891E-4f;
    private static final float SINCOF_P1 = 8.3321608736E-3f;
    private static final float SINCOF_P2 = -1.6666654611E-1f;
    private static final float COSCOF_P0 = 2.443315711809948E-005f;
    private static final float COSCOF_P1 = -1.388731625493765E-003f;
    private static final float COSCOF_P2 = 4.166664568298827E-002f;

    private CephesFloatMath() {}

    /** Natural logarithm of a positive normal float. */
    static float log(float input) {
        if (input <= 0) {
            return Float.NaN;
        }
        float x = Math.max(input, Float.MIN_NORMAL);
        int bits = Float.floatToRawIntBits(x);
        float e = (bits >>> 23) - 0x7f;
        x = Float.intBitsToFloat((bits & ~0x7f800000) | Float.floatToRawIntBits(0.5f));
        e += 1f;
        boolean small = x < SQRTHF;
        float tmp = small ? x : 0f;
        x = x - 1f;
        e = e - (small ? 1f : 0f);
        x = x + tmp;
        float z = x * x;
        float y = LOG_P0;
        y = Math.fma(y, x, LOG_P1);
        y = Math.fma(y, x, LOG_P2);
        y = Math.fma(y, x, LOG_P3);
        y = Math.fma(y, x, LOG_P4);
        y = Math.fma(y, x, LOG_P5);
        y = Math.fma(y, x, LOG_P6);
        y = Math.fma(y, x, LOG_P7);
        y = Math.fma(y, x, LOG_P8);
        y = y * x;
        y = Math.fma(y, z, e * LOG_Q1);
        y = y - z * 0.5f;
        x = x + y;
        return x + e * LOG_Q2;
    }

    /** {@code {sin(x), cos(x)}}. */
    static float[] sinCos(float input) {
        int signSin = Float.floatToRawIntBits(input) & 0x80000000;
        float x = Math.abs(input);
        float y = x * FOPI;
        int j = (int) y;
        j = (j + 1) & ~1;
        y = j;
        int swapSignSin = (j & 4) << 29;
        boolean polyMask = (j & 2) == 0;
        x = x + y * DP1;
        x = x + y * DP2;
        x = x + y * DP3;
        int signCos = (~(j - 2) & 4) << 29;
        signSin ^= swapSignSin;

        float z = x * x;
        float c = COSCOF_P0;
        c = Math.fma(c, z, COSCOF_P1);
        c = Math.fma(c, z, COSCOF_P2);
        c = c * z;
        c = Math.fma(c, z, -(z * 0.5f));
        c = c + 1f;

        float s = SINCOF_P0;
        s = Math.fma(s, z, SINCOF_P1);
        s = Math.fma(s, z, SINCOF_P2);
        s = s * z;
        s = Math.fma(s, x, x);

        float sin = polyMask ? s : c;
        float cos = polyMask ? c : s;
        return new float[] {
            Float.intBitsToFloat(Float.floatToRawIntBits(sin) ^ signSin),
            Float.intBitsToFloat(Float.floatToRawIntBits(cos) ^ signCos)};
    }
}
