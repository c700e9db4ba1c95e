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
 * small enough to stay in L2, each copied into a per-thread heap array and read there twice, for its
 * per-channel sums and then for its squared deviations from its own group means (two passes: no
 * cancellation), and the ranges are combined in double by an exact identity. (Summed from the segment in place,
 * every vector load kept its segment checks inside the loop: the statistics took about 1.4 times as long as the
 * copy and the two passes over the array.) A second read applies {@code y = x * scale[c] + shift[c]} with
 * {@code scale = rstd * gamma} and {@code shift = beta - mean * scale}, as torch computes it. (The VAE's
 * largest activations are 128 MB, read from memory at a few GB/s: each full pass over them costs more than
 * its arithmetic.)
 */
final class GroupNormKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Vectors of channels the statistics gather at once, each in two accumulators. */
    private static final int CHANNEL_VECTORS = 4;
    /** Pixels summed in float before the partial sum is moved into a double. */
    private static final int FLUSH = 64;
    /** Most bytes of activations in one range of the statistics: read twice, the second time from L2. */
    private static final int RANGE_BYTES = 256 * 1024;

    /** Per-thread copy of the range of pixels whose statistics are being gathered, grown as needed. */
    private static final ThreadLocal<float[]> RANGE = ThreadLocal.withInitial(() -> new float[RANGE_BYTES / Float.BYTES + VL]);

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
            // whole vectors without a mask, the channels' tail with one: masked on every vector, this pass took
            // 7-30% longer
            int full = channels - channels % VL;
            float[] scaleOf = scale[b];
            float[] shiftOf = shift[b];
            for (int p = from; p < to; p++) {
                long row = ((long) b * pixels + p) * channels * Float.BYTES;
                for (int c = 0; c < full; c += VL) {
                    long o = row + (long) c * Float.BYTES;
                    FloatVector v = FloatVector.fromMemorySegment(S, x, o, ORDER)
                            .fma(FloatVector.fromArray(S, scaleOf, c), FloatVector.fromArray(S, shiftOf, c));
                    (silu ? PointwiseKernels.silu(v) : v).intoMemorySegment(out, o, ORDER);
                }
                if (full < channels) {
                    VectorMask<Float> m = S.indexInRange(full, channels);
                    long o = row + (long) full * Float.BYTES;
                    FloatVector v = FloatVector.fromMemorySegment(S, x, o, ORDER, m)
                            .fma(FloatVector.fromArray(S, scaleOf, full, m), FloatVector.fromArray(S, shiftOf, full, m));
                    (silu ? PointwiseKernels.silu(v) : v).intoMemorySegment(out, o, ORDER, m);
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
        int rows = to - from;
        float[] range = RANGE.get();
        if (range.length < rows * channels + VL) {
            range = new float[rows * channels + VL];
            RANGE.set(range);
        }
        MemorySegment.copy(x, ValueLayout.JAVA_FLOAT_UNALIGNED, ((long) b * pixels + from) * channels * Float.BYTES,
                range, 0, rows * channels);
        double[] channelSums = sums(range, rows, channels, new float[channels], false);
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
        double[] channelSquares = sums(range, rows, channels, centrePerChannel, true);
        double[] squares = new double[groups];
        for (int g = 0; g < groups; g++) {
            for (int c = g * perGroup; c < (g + 1) * perGroup; c++) {
                squares[g] += channelSquares[c];
            }
        }
        return new RangeStatistics(to - from, sums, centres, squares);
    }

    /**
     * Per-channel sums over the {@code rows} pixels of {@code values} of {@code x - shift[c]}, or of its square.
     * The channels go {@link #CHANNEL_VECTORS} vectors at a time (then one at a time), down the pixels, two
     * pixels per step into separate accumulators, which are added and moved into doubles every {@link #FLUSH}
     * pixels. The sums stay in registers: kept in an array, each pixel's update waited on the one before it
     * through memory.
     */
    private static double[] sums(float[] values, int rows, int channels, float[] shift, boolean squares) {
        double[] total = new double[channels];
        float[] partial = new float[CHANNEL_VECTORS * VL];
        int c = 0;
        for (; c + CHANNEL_VECTORS * VL <= channels; c += CHANNEL_VECTORS * VL) {
            FloatVector s0 = FloatVector.fromArray(S, shift, c);
            FloatVector s1 = FloatVector.fromArray(S, shift, c + VL);
            FloatVector s2 = FloatVector.fromArray(S, shift, c + 2 * VL);
            FloatVector s3 = FloatVector.fromArray(S, shift, c + 3 * VL);
            for (int p0 = 0; p0 < rows; p0 += FLUSH) {
                int p1 = Math.min(rows, p0 + FLUSH);
                FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
                FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                int p = p0;
                for (; p + 2 <= p1; p += 2) {
                    int at = p * channels + c;
                    int next = at + channels;
                    FloatVector v0 = FloatVector.fromArray(S, values, at).sub(s0);
                    FloatVector v1 = FloatVector.fromArray(S, values, at + VL).sub(s1);
                    FloatVector v2 = FloatVector.fromArray(S, values, at + 2 * VL).sub(s2);
                    FloatVector v3 = FloatVector.fromArray(S, values, at + 3 * VL).sub(s3);
                    FloatVector w0 = FloatVector.fromArray(S, values, next).sub(s0);
                    FloatVector w1 = FloatVector.fromArray(S, values, next + VL).sub(s1);
                    FloatVector w2 = FloatVector.fromArray(S, values, next + 2 * VL).sub(s2);
                    FloatVector w3 = FloatVector.fromArray(S, values, next + 3 * VL).sub(s3);
                    if (squares) {
                        a0 = v0.fma(v0, a0); a1 = v1.fma(v1, a1); a2 = v2.fma(v2, a2); a3 = v3.fma(v3, a3);
                        b0 = w0.fma(w0, b0); b1 = w1.fma(w1, b1); b2 = w2.fma(w2, b2); b3 = w3.fma(w3, b3);
                    } else {
                        a0 = a0.add(v0); a1 = a1.add(v1); a2 = a2.add(v2); a3 = a3.add(v3);
                        b0 = b0.add(w0); b1 = b1.add(w1); b2 = b2.add(w2); b3 = b3.add(w3);
                    }
                }
                if (p < p1) { // the odd last pixel, apart: a test for it inside the loop cost the sums 5%
                    int at = p * channels + c;
                    FloatVector v0 = FloatVector.fromArray(S, values, at).sub(s0);
                    FloatVector v1 = FloatVector.fromArray(S, values, at + VL).sub(s1);
                    FloatVector v2 = FloatVector.fromArray(S, values, at + 2 * VL).sub(s2);
                    FloatVector v3 = FloatVector.fromArray(S, values, at + 3 * VL).sub(s3);
                    if (squares) {
                        a0 = v0.fma(v0, a0); a1 = v1.fma(v1, a1); a2 = v2.fma(v2, a2); a3 = v3.fma(v3, a3);
                    } else {
                        a0 = a0.add(v0); a1 = a1.add(v1); a2 = a2.add(v2); a3 = a3.add(v3);
                    }
                }
                a0.add(b0).intoArray(partial, 0);
                a1.add(b1).intoArray(partial, VL);
                a2.add(b2).intoArray(partial, 2 * VL);
                a3.add(b3).intoArray(partial, 3 * VL);
                addInto(total, c, partial, CHANNEL_VECTORS * VL);
            }
        }
        for (; c < channels; c += VL) {
            VectorMask<Float> inRange = S.indexInRange(c, channels);
            FloatVector s0 = FloatVector.fromArray(S, shift, c, inRange);
            for (int p0 = 0; p0 < rows; p0 += FLUSH) {
                int p1 = Math.min(rows, p0 + FLUSH);
                FloatVector a0 = FloatVector.zero(S), b0 = a0;
                int p = p0;
                for (; p + 2 <= p1; p += 2) {
                    FloatVector v0 = FloatVector.fromArray(S, values, p * channels + c, inRange).sub(s0);
                    FloatVector w0 = FloatVector.fromArray(S, values, (p + 1) * channels + c, inRange).sub(s0);
                    a0 = squares ? v0.fma(v0, a0) : a0.add(v0);
                    b0 = squares ? w0.fma(w0, b0) : b0.add(w0);
                }
                if (p < p1) {
                    FloatVector v0 = FloatVector.fromArray(S, values, p * channels + c, inRange).sub(s0);
                    a0 = squares ? v0.fma(v0, a0) : a0.add(v0);
                }
                a0.add(b0).intoArray(partial, 0);
                addInto(total, c, partial, Math.min(VL, channels - c));
            }
        }
        return total;
    }

    /**
     * {@code total[at + i] += partial[i]} in double, for {@code i < count}. The partial sums come through an
     * array: a vector handed to a method C2 did not inline is boxed, and its lanes read as plain Java.
     */
    private static void addInto(double[] total, int at, float[] partial, int count) {
        for (int i = 0; i < count; i++) {
            total[at + i] += partial[i];
        }
    }
}
