package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Widening of 16-bit floats (IEEE half and bfloat16) to float32, exactly. Packed weights stored in 16 bits
 * are widened a block at a time inside the matrix product, so they stay 16-bit in memory.
 *
 * <p>Plain loops on purpose: C2 compiles a loop from a memory segment into a float array to vector
 * conversions ({@code vcvtph2ps} for halves), at 0.06-0.14 ns a value, where explicit Vector API code
 * writing to a memory segment took 0.27-0.45 ns (the checks around each segment store cost more than the
 * conversion), and a product spent 9% of its time there.
 */
final class HalfPrecision {
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED;

    private HalfPrecision() {}

    /** Widens {@code count} IEEE half values from byte {@code offset} of {@code src} into {@code dst[at, at + count)}. */
    static void halfToFloat(MemorySegment src, long offset, float[] dst, int at, int count) {
        for (int i = 0; i < count; i++) {
            dst[at + i] = Float.float16ToFloat(src.get(HALF, offset + 2L * i));
        }
    }

    /** Widens {@code count} bfloat16 values from byte {@code offset} of {@code src} into {@code dst[at, at + count)}. */
    static void bfloat16ToFloat(MemorySegment src, long offset, float[] dst, int at, int count) {
        for (int i = 0; i < count; i++) {
            dst[at + i] = Float.intBitsToFloat(src.get(HALF, offset + 2L * i) << 16);
        }
    }
}
