package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Group normalisation of channels-last activations {@code [batch, pixels, channels]}: each batch
 * item's channels are split into groups, each group normalised over all its pixels and channels, then
 * scaled and shifted per channel, optionally followed by SiLU (the pairing every ResNet block uses).
 *
 * <p>Three passes, each spread over pixel ranges: per-channel sums, per-channel squared deviations
 * from the group mean (two passes: no cancellation), then {@code y = x * scale[c] + shift[c]} with
 * {@code scale = rstd * gamma} and {@code shift = beta - mean * scale}, as torch computes it.
 */
final class GroupNormKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Pixels summed in float before the partial sum is moved into a double. */
    private static final int FLUSH = 64;

    private GroupNormKernel() {}

    static void groupNorm(Parallel parallel, MemorySegment x, MemorySegment gamma, MemorySegment beta, float eps,
            boolean silu, MemorySegment out, int batch, int pixels, int channels, int groups) {
        int perGroup = channels / groups;
        int chunks = Math.max(1, Math.min(pixels, 4 * parallel.threads()));
        int chunkPixels = (pixels + chunks - 1) / chunks;
        float[] zero = new float[channels];

        double[][] sums = new double[batch * chunks][];
        parallel.forEach(batch * chunks, task -> sums[task] = sums(x, task / chunks, task % chunks, chunkPixels, pixels,
                channels, zero, false));
        double[][] mean = new double[batch][groups];
        float[][] meanPerChannel = new float[batch][channels];
        for (int b = 0; b < batch; b++) {
            for (int g = 0; g < groups; g++) {
                double total = 0;
                for (int t = 0; t < chunks; t++) {
                    for (int c = g * perGroup; c < (g + 1) * perGroup; c++) {
                        total += sums[b * chunks + t][c];
                    }
                }
                mean[b][g] = total / ((double) pixels * perGroup);
                for (int c = g * perGroup; c < (g + 1) * perGroup; c++) {
                    meanPerChannel[b][c] = (float) mean[b][g];
                }
            }
        }

        double[][] squares = new double[batch * chunks][];
        parallel.forEach(batch * chunks, task -> squares[task] = sums(x, task / chunks, task % chunks, chunkPixels,
                pixels, channels, meanPerChannel[task / chunks], true));
        float[][] scale = new float[batch][channels];
        float[][] shift = new float[batch][channels];
        for (int b = 0; b < batch; b++) {
            for (int g = 0; g < groups; g++) {
                double total = 0;
                for (int t = 0; t < chunks; t++) {
                    for (int c = g * perGroup; c < (g + 1) * perGroup; c++) {
                        total += squares[b * chunks + t][c];
                    }
                }
                float variance = (float) (total / ((double) pixels * perGroup));
                float rstd = (float) (1.0 / Math.sqrt(variance + eps));
                for (int c = g * perGroup; c < (g + 1) * perGroup; c++) {
                    float gm = gamma.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, c);
                    float bt = beta.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, c);
                    scale[b][c] = rstd * gm;
                    shift[b][c] = bt - (float) mean[b][g] * scale[b][c];
                }
            }
        }

        parallel.forEach(batch * chunks, task -> {
            int b = task / chunks;
            int from = (task % chunks) * chunkPixels;
            int to = Math.min(pixels, from + chunkPixels);
            for (int p = from; p < to; p++) {
                long row = ((long) b * pixels + p) * channels * Float.BYTES;
                for (int c = 0; c < channels; c += S.length()) {
                    VectorMask<Float> m = S.indexInRange(c, channels);
                    long o = row + (long) c * Float.BYTES;
                    FloatVector v = FloatVector.fromMemorySegment(S, x, o, ORDER, m)
                            .fma(FloatVector.fromArray(S, scale[b], c, m), FloatVector.fromArray(S, shift[b], c, m));
                    if (silu) {
                        v = PointwiseKernels.silu(v);
                    }
                    v.intoMemorySegment(out, o, ORDER, m);
                }
            }
        });
    }

    /** Per-channel sums over a pixel range of {@code x - shift[c]}, or of its square. */
    private static double[] sums(MemorySegment x, int b, int chunk, int chunkPixels, int pixels, int channels,
            float[] shift, boolean squares) {
        double[] total = new double[channels];
        float[] partial = new float[channels];
        int from = chunk * chunkPixels;
        int to = Math.min(pixels, from + chunkPixels);
        for (int p = from; p < to; p++) {
            long row = ((long) b * pixels + p) * channels * Float.BYTES;
            for (int c = 0; c < channels; c += S.length()) {
                VectorMask<Float> m = S.indexInRange(c, channels);
                FloatVector v = FloatVector.fromMemorySegment(S, x, row + (long) c * Float.BYTES, ORDER, m)
                        .sub(FloatVector.fromArray(S, shift, c, m));
                FloatVector acc = FloatVector.fromArray(S, partial, c, m);
                (squares ? v.fma(v, acc) : acc.add(v)).intoArray(partial, c, m);
            }
            if ((p - from) % FLUSH == FLUSH - 1 || p == to - 1) {
                for (int c = 0; c < channels; c++) {
                    total[c] += partial[c];
                    partial[c] = 0f;
                }
            }
        }
        return total;
    }
}
