package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.Activation;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Elementwise kernels over flat float ranges: activations and sums. */
final class PointwiseKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final long CHUNK = 1 << 14;

    // Abramowitz & Stegun 7.1.26, the erf torch's vectorised CPU GELU uses; |error| < 1.5e-7.
    private static final float ERF_P = 0.3275911f;
    private static final float ERF_A1 = 0.254829592f;
    private static final float ERF_A2 = -0.284496736f;
    private static final float ERF_A3 = 1.421413741f;
    private static final float ERF_A4 = -1.453152027f;
    private static final float ERF_A5 = 1.061405429f;
    private static final float SQRT1_2 = (float) (1 / Math.sqrt(2));
    private static final float QUICK_GELU_ALPHA = 1.702f;

    private PointwiseKernels() {}

    /**
     * {@code out[i] = activation(x[i])} for {@code count} floats; {@code out} may be {@code x}. Each activation
     * has its own loop: a vector handed to a method C2 does not inline is boxed on the heap, and one method
     * computing every activation grows past the size C2 inlines.
     */
    static void activation(Parallel parallel, Activation activation, MemorySegment x, MemorySegment out, long count) {
        parallel.forRanges(count, CHUNK, (from, to) -> {
            switch (activation) {
                case IDENTITY -> MemorySegment.copy(x, from * Float.BYTES, out, from * Float.BYTES, (to - from) * Float.BYTES);
                case GELU -> geluRange(x, out, from, to);
                case QUICK_GELU -> quickGeluRange(x, out, from, to);
                case SILU -> siluRange(x, out, from, to);
            }
        });
    }

    private static void geluRange(MemorySegment x, MemorySegment out, long from, long to) {
        for (long i = from; i < to; i += S.length()) {
            VectorMask<Float> m = S.indexInRange(i, to);
            gelu(FloatVector.fromMemorySegment(S, x, i * Float.BYTES, ORDER, m)).intoMemorySegment(out, i * Float.BYTES, ORDER, m);
        }
    }

    private static void quickGeluRange(MemorySegment x, MemorySegment out, long from, long to) {
        for (long i = from; i < to; i += S.length()) {
            VectorMask<Float> m = S.indexInRange(i, to);
            quickGelu(FloatVector.fromMemorySegment(S, x, i * Float.BYTES, ORDER, m))
                    .intoMemorySegment(out, i * Float.BYTES, ORDER, m);
        }
    }

    private static void siluRange(MemorySegment x, MemorySegment out, long from, long to) {
        for (long i = from; i < to; i += S.length()) {
            VectorMask<Float> m = S.indexInRange(i, to);
            silu(FloatVector.fromMemorySegment(S, x, i * Float.BYTES, ORDER, m)).intoMemorySegment(out, i * Float.BYTES, ORDER, m);
        }
    }

    static FloatVector gelu(FloatVector x) {
        return x.mul(0.5f).mul(erf(x.mul(SQRT1_2)).add(1f));
    }

    static FloatVector quickGelu(FloatVector x) {
        return x.mul(sigmoid(x.mul(QUICK_GELU_ALPHA)));
    }

    static FloatVector silu(FloatVector x) {
        return x.mul(sigmoid(x));
    }

    private static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(S, 1f).div(VectorMath.exp(x.neg()).add(1f));
    }

    /** erf(x) = sign(x) (1 - t r(t) exp(-x^2)), t = 1 / (1 + p|x|). */
    static FloatVector erf(FloatVector x) {
        FloatVector abs = x.abs();
        FloatVector t = abs.fma(ERF_P, 1f);
        t = FloatVector.broadcast(S, 1f).div(t);
        FloatVector r = t.fma(ERF_A5, ERF_A4).fma(t, FloatVector.broadcast(S, ERF_A3));
        r = r.fma(t, FloatVector.broadcast(S, ERF_A2)).fma(t, FloatVector.broadcast(S, ERF_A1));
        FloatVector e = VectorMath.exp(x.mul(x).neg()).neg().mul(t);
        FloatVector y = e.fma(r, FloatVector.broadcast(S, 1f));
        IntVector sign = x.reinterpretAsInts().and(Integer.MIN_VALUE);
        return y.reinterpretAsInts().lanewise(VectorOperators.XOR, sign).reinterpretAsFloats();
    }

    /** {@code out[i] = a[i] + b[i]}; {@code out} may be {@code a} or {@code b}. */
    static void add(Parallel parallel, MemorySegment a, MemorySegment b, MemorySegment out, long count) {
        parallel.forRanges(count, CHUNK, (from, to) -> {
            long i = from;
            for (long upper = from + S.loopBound(to - from); i < upper; i += S.length()) {
                long o = i * Float.BYTES;
                FloatVector.fromMemorySegment(S, a, o, ORDER).add(FloatVector.fromMemorySegment(S, b, o, ORDER))
                        .intoMemorySegment(out, o, ORDER);
            }
            for (; i < to; i++) {
                long o = i * Float.BYTES;
                out.set(ValueLayout.JAVA_FLOAT_UNALIGNED, o,
                        a.get(ValueLayout.JAVA_FLOAT_UNALIGNED, o) + b.get(ValueLayout.JAVA_FLOAT_UNALIGNED, o));
            }
        });
    }

    /** {@code x[b][p][c] += v[b][c]}: a per-item vector (a time embedding) added at every position. */
    static void addPerItem(Parallel parallel, MemorySegment x, MemorySegment v, int batch, int positions, int width) {
        parallel.forEach(batch, b -> {
            long vb = (long) b * width * Float.BYTES;
            for (int p = 0; p < positions; p++) {
                long row = ((long) b * positions + p) * width * Float.BYTES;
                for (int c = 0; c < width; c += S.length()) {
                    VectorMask<Float> m = S.indexInRange(c, width);
                    long o = row + (long) c * Float.BYTES;
                    FloatVector.fromMemorySegment(S, x, o, ORDER, m)
                            .add(FloatVector.fromMemorySegment(S, v, vb + (long) c * Float.BYTES, ORDER, m))
                            .intoMemorySegment(x, o, ORDER, m);
                }
            }
        });
    }

    /** GEGLU: {@code out[r] = x[r][:w] * gelu(x[r][w:])} for rows of {@code 2w} floats. */
    static void geglu(Parallel parallel, MemorySegment x, MemorySegment out, int rows, int width) {
        parallel.forRanges(rows, Math.max(1, 4096 / Math.max(1, width)), (from, to) -> {
            for (long r = from; r < to; r++) {
                long in = r * 2 * width * Float.BYTES;
                long o = r * width * Float.BYTES;
                long gates = in + (long) width * Float.BYTES;
                // whole vectors without a mask, the row's tail with one (a mask on every vector costs its checks)
                int c = 0;
                for (int upper = S.loopBound(width); c < upper; c += S.length()) {
                    long at = (long) c * Float.BYTES;
                    FloatVector hidden = FloatVector.fromMemorySegment(S, x, in + at, ORDER);
                    FloatVector gate = FloatVector.fromMemorySegment(S, x, gates + at, ORDER);
                    hidden.mul(gelu(gate)).intoMemorySegment(out, o + at, ORDER);
                }
                if (c < width) {
                    VectorMask<Float> m = S.indexInRange(c, width);
                    long at = (long) c * Float.BYTES;
                    FloatVector hidden = FloatVector.fromMemorySegment(S, x, in + at, ORDER, m);
                    FloatVector gate = FloatVector.fromMemorySegment(S, x, gates + at, ORDER, m);
                    hidden.mul(gelu(gate)).intoMemorySegment(out, o + at, ORDER, m);
                }
            }
        });
    }

    /** {@code out[i] = x[i] * factor}; {@code out} may be {@code x}. */
    static void scale(Parallel parallel, MemorySegment x, MemorySegment out, long count, float factor) {
        parallel.forRanges(count, CHUNK, (from, to) -> {
            for (long i = from; i < to; i += S.length()) {
                VectorMask<Float> m = S.indexInRange(i, to);
                FloatVector.fromMemorySegment(S, x, i * Float.BYTES, ORDER, m).mul(factor)
                        .intoMemorySegment(out, i * Float.BYTES, ORDER, m);
            }
        });
    }
}
