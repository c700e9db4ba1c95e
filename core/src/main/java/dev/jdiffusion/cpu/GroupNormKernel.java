package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Group normalisation of channels-last activations {@code [batch, pixels, channels]}: each batch
 * item's channels are split into groups, each group normalised over all its pixels and channels, then
 * scaled and shifted per channel, optionally followed by SiLU (the pairing every ResNet block uses).
 *
 * <p>The statistics take one read of the activations from memory: they are gathered over ranges of pixels
 * small enough to stay in L2, each read twice in a row, for its per-channel sums and then for its squared
 * deviations from its own group means (two passes: no cancellation), and the ranges are combined in double
 * by an exact identity. A second read applies {@code y = x * scale[c] + shift[c]} with
 * {@code scale = rstd * gamma} and {@code shift = beta - mean * scale}, as torch computes it. (The VAE's
 * largest activations are 128 MB, read from memory at a few GB/s: each full pass over them costs more than
 * its arithmetic.)
 */
final class GroupNormKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Pixels summed in float before the partial sum is moved into a double. */
    private static final int FLUSH = 64;
    /** Most bytes of activations in one range of the statistics: read twice, the second time from L2. */
    private static final int RANGE_BYTES = 256 * 1024;

    private GroupNormKernel() {}

    static void groupNorm(Parallel parallel, MemorySegment x, MemorySegment gamma, MemorySegment beta, float eps,
            boolean silu, MemorySegment out, int batch, int pixels, int channels, int groups) {
        int perGroup = channels / groups;
        int rangePixels = Math.max(1, RANGE_BYTES / (channels * Float.BYTES));
        int ranges = (pixels + rangePixels - 1) / rangePixels;
        RangeStatistics[] statistics = new RangeStatistics[batch * ranges];
        parallel.forEach(batch * ranges, task -> {
            int from = task % ranges * rangePixels;
            statistics[task] = rangeStatistics(x, task / ranges, from, Math.min(pixels, from + rangePixels), pixels,
                    channels, groups);
        });
        float[][] scale = new float[batch][channels];
        float[][] shift = new float[batch][channels];
        double count = (double) pixels * perGroup;
        for (int b = 0; b < batch; b++) {
            for (int g = 0; g < groups; g++) {
                double sum = 0;
                for (int t = 0; t < ranges; t++) {
                    sum += statistics[b * ranges + t].sums[g];
                }
                double mean = sum / count;
                // each range's squares are about its own centre m: sum (x - M)^2 over the range
                // = sum (x - m)^2 + 2 (m - M) sum (x - m) + n (m - M)^2
                double squares = 0;
                for (int t = 0; t < ranges; t++) {
                    RangeStatistics range = statistics[b * ranges + t];
                    double n = (double) range.pixels * perGroup;
                    double offset = range.centres[g] - mean;
                    double aboutCentre = range.sums[g] - n * range.centres[g];
                    squares += range.squares[g] + 2 * offset * aboutCentre + n * offset * offset;
                }
                float variance = (float) (squares / count);
                float rstd = (float) (1.0 / Math.sqrt(variance + eps));
                for (int c = g * perGroup; c < (g + 1) * perGroup; c++) {
                    float gm = gamma.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, c);
                    float bt = beta.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, c);
                    scale[b][c] = rstd * gm;
                    shift[b][c] = bt - (float) mean * scale[b][c];
                }
            }
        }

        int chunks = Math.max(1, Math.min(pixels, 4 * parallel.threads()));
        int chunkPixels = (pixels + chunks - 1) / chunks;
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

    /**
     * The statistics of one range of pixels of a batch item, per group: the sum of its values, the float centre
     * its squared deviations were taken from (its own mean, rounded), and the sum of those squared deviations.
     */
    private record RangeStatistics(int pixels, double[] sums, double[] centres, double[] squares) {}

    private static RangeStatistics rangeStatistics(MemorySegment x, int b, int from, int to, int pixels, int channels,
            int groups) {
        int perGroup = channels / groups;
        double[] channelSums = sums(x, b, from, to, pixels, channels, new float[channels], false);
        double[] sums = new double[groups];
        double[] centres = new double[groups];
        float[] centrePerChannel = new float[channels];
        for (int g = 0; g < groups; g++) {
            for (int c = g * perGroup; c < (g + 1) * perGroup; c++) {
                sums[g] += channelSums[c];
            }
            float centre = (float) (sums[g] / ((double) (to - from) * perGroup));
            centres[g] = centre;
            Arrays.fill(centrePerChannel, g * perGroup, (g + 1) * perGroup, centre);
        }
        double[] channelSquares = sums(x, b, from, to, pixels, channels, centrePerChannel, true);
        double[] squares = new double[groups];
        for (int g = 0; g < groups; g++) {
            for (int c = g * perGroup; c < (g + 1) * perGroup; c++) {
                squares[g] += channelSquares[c];
            }
        }
        return new RangeStatistics(to - from, sums, centres, squares);
    }

    /** Per-channel sums over pixels {@code [from, to)} of {@code x - shift[c]}, or of its square. */
    private static double[] sums(MemorySegment x, int b, int from, int to, int pixels, int channels, float[] shift,
            boolean squares) {
        double[] total = new double[channels];
        float[] partial = new float[channels];
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
