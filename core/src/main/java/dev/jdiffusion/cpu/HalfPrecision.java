package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Widening of 16-bit floats (IEEE half and bfloat16) to float32, a vector at a time, exactly. Packed
 * weights stored in 16 bits are widened a block at a time inside the matrix product, so they stay 16-bit
 * in memory.
 */
final class HalfPrecision {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * 16));
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** 2^112: moves a half's exponent field, placed in a float's, to the float bias (exact for subnormals too). */
    private static final float REBIAS = 0x1.0p112f;

    private HalfPrecision() {}

    /** Widens {@code count} IEEE half values at {@code src} to floats at {@code dst}. */
    static void halfToFloat(MemorySegment src, MemorySegment dst, long count) {
        long i = 0;
        for (long upper = count - count % F.length(); i < upper; i += F.length()) {
            IntVector h = ((IntVector) ShortVector.fromMemorySegment(H, src, i * 2, ORDER)
                    .convertShape(VectorOperators.S2I, I, 0)).and(0xFFFF);
            IntVector magnitude = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
            FloatVector value = magnitude.reinterpretAsFloats().mul(REBIAS);
            // infinities and NaNs: all exponent bits set, the mantissa kept
            IntVector bits = value.reinterpretAsInts().blend(magnitude.or(0x7F800000),
                    h.and(0x7C00).compare(VectorOperators.EQ, 0x7C00));
            bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats()
                    .intoMemorySegment(dst, i * Float.BYTES, ORDER);
        }
        for (; i < count; i++) {
            dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, Float.float16ToFloat(src.getAtIndex(ValueLayout.JAVA_SHORT, i)));
        }
    }

    /** Widens {@code count} bfloat16 values at {@code src} to floats at {@code dst}. */
    static void bfloat16ToFloat(MemorySegment src, MemorySegment dst, long count) {
        long i = 0;
        for (long upper = count - count % F.length(); i < upper; i += F.length()) {
            ((IntVector) ShortVector.fromMemorySegment(H, src, i * 2, ORDER).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoMemorySegment(dst, i * Float.BYTES, ORDER);
        }
        for (; i < count; i++) {
            dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, Float.intBitsToFloat(src.getAtIndex(ValueLayout.JAVA_SHORT, i) << 16));
        }
    }
}
