package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Kernels that reduce along the last dimension, one row at a time: layer norm and softmax. */
final class RowKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private RowKernels() {}

    /** {@code out = (x - mean) / sqrt(var + eps) * gamma + beta} per row of {@code width} floats. */
    static void layerNorm(Parallel parallel, MemorySegment x, MemorySegment gamma, MemorySegment beta, float eps,
            MemorySegment out, int rows, int width) {
        parallel.forRanges(rows, Math.max(1, 4096 / Math.max(1, width)), (from, to) -> {
            for (long row = from; row < to; row++) {
                long base = row * width * Float.BYTES;
                float mean = (float) (sum(x, base, width) / width);
                float variance = (float) (sumOfSquares(x, base, width, mean) / width);
                float rstd = (float) (1.0 / Math.sqrt(variance + eps));
                // whole vectors without a mask, the row's tail with one (a mask on every vector costs its checks)
                int i = 0;
                for (int upper = S.loopBound(width); i < upper; i += S.length()) {
                    long o = base + (long) i * Float.BYTES;
                    long g = (long) i * Float.BYTES;
                    FloatVector v = FloatVector.fromMemorySegment(S, x, o, ORDER).sub(mean).mul(rstd);
                    v = v.fma(FloatVector.fromMemorySegment(S, gamma, g, ORDER),
                            FloatVector.fromMemorySegment(S, beta, g, ORDER));
                    v.intoMemorySegment(out, o, ORDER);
                }
                if (i < width) {
                    VectorMask<Float> m = S.indexInRange(i, width);
                    long o = base + (long) i * Float.BYTES;
                    long g = (long) i * Float.BYTES;
                    FloatVector v = FloatVector.fromMemorySegment(S, x, o, ORDER, m).sub(mean).mul(rstd);
                    v = v.fma(FloatVector.fromMemorySegment(S, gamma, g, ORDER, m),
                            FloatVector.fromMemorySegment(S, beta, g, ORDER, m));
                    v.intoMemorySegment(out, o, ORDER, m);
                }
            }
        });
    }

    private static double sum(MemorySegment x, long base, int width) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int upper = S.loopBound(width); i < upper; i += S.length()) {
            acc = acc.add(FloatVector.fromMemorySegment(S, x, base + (long) i * Float.BYTES, ORDER));
        }
        double total = VectorMath.sum(acc);
        for (; i < width; i++) {
            total += x.get(ValueLayout.JAVA_FLOAT_UNALIGNED, base + (long) i * Float.BYTES);
        }
        return total;
    }

    /** Sum of squared deviations from {@code mean}: the two-pass variance, exact to float rounding. */
    private static double sumOfSquares(MemorySegment x, long base, int width, float mean) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int upper = S.loopBound(width); i < upper; i += S.length()) {
            FloatVector d = FloatVector.fromMemorySegment(S, x, base + (long) i * Float.BYTES, ORDER).sub(mean);
            acc = d.fma(d, acc);
        }
        double total = VectorMath.sum(acc);
        for (; i < width; i++) {
            double d = x.get(ValueLayout.JAVA_FLOAT_UNALIGNED, base + (long) i * Float.BYTES) - mean;
            total += d * d;
        }
        return total;
    }

    /** {@code out = exp(x - max) / sum(exp(x - max))} per row of {@code width} floats. */
    static void softmax(Parallel parallel, MemorySegment x, MemorySegment out, int rows, int width) {
        parallel.forRanges(rows, Math.max(1, 4096 / Math.max(1, width)), (from, to) -> {
            for (long row = from; row < to; row++) {
                long base = row * width * Float.BYTES;
                FloatVector maxV = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
                for (int i = 0; i < width; i += S.length()) {
                    VectorMask<Float> m = S.indexInRange(i, width);
                    FloatVector v = FloatVector.fromMemorySegment(S, x, base + (long) i * Float.BYTES, ORDER, m);
                    maxV = maxV.lanewise(VectorOperators.MAX, v, m);
                }
                float max = maxV.reduceLanes(VectorOperators.MAX);
                FloatVector sumV = FloatVector.zero(S);
                for (int i = 0; i < width; i += S.length()) {
                    VectorMask<Float> m = S.indexInRange(i, width);
                    long o = base + (long) i * Float.BYTES;
                    FloatVector shifted = FloatVector.fromMemorySegment(S, x, o, ORDER, m).sub(max);
                    FloatVector e = VectorMath.expOfNonPositive(shifted);
                    e.intoMemorySegment(out, o, ORDER, m);
                    sumV = sumV.add(e, m);
                }
                float inverse = 1f / VectorMath.sum(sumV);
                for (int i = 0; i < width; i += S.length()) {
                    VectorMask<Float> m = S.indexInRange(i, width);
                    long o = base + (long) i * Float.BYTES;
                    FloatVector.fromMemorySegment(S, out, o, ORDER, m).mul(inverse).intoMemorySegment(out, o, ORDER, m);
                }
            }
        });
    }
}
