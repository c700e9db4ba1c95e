package dev.jdiffusion.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The 4x4 output tiles of one Winograd convolution ({@link WinogradKernel}) and the two transforms between a
 * tile and its sums. Per input channel, the 6x6 patch {@code d} of input around a tile becomes
 * {@code V = B^T d B}; per output channel, the sums {@code M = sum over c of U[c] * V[c]} (elementwise,
 * {@code U} from {@link Winograd4x4Weights}) become the tile {@code Y = A^T M A}, with
 *
 * <pre>
 *     B^T = | 2  3 -4 -3  2  0 |      A^T = | 1  1  1  1   1    0 |
 *           | 0 -2 -5 -1  2  0 |            | 0  1 -1  2  -1/2  0 |
 *           | 0  2  1 -5  2  0 |            | 0  1  1  4   1/4  0 |
 *           | 0 -1 -2  1  2  0 |            | 0  1 -1  8  -1/8  1 |
 *           | 0  4 -2 -4  2  0 |
 *           | 0  2  3 -4 -3  2 |
 * </pre>
 *
 * from the points 0, 1, -1, 2, -1/2 and infinity. The usual points 0, 1, -1, 2, -2 give sparser transforms,
 * but their rounding error, simulated over 256 channels, came to about five times the direct convolution's;
 * these points bring it to about twice (and the golden tests of the tiny models pass with every convolution
 * forced onto this path, which the usual points did not).
 *
 * @param grid where the tiles lie
 * @param bias one float per output channel, or null
 * @param out the output, channels-last
 */
record Winograd4x4Tiles(WinogradGrid grid, int outChannels, MemorySegment bias, MemorySegment out) {
    /** Output pixels down and across one tile. */
    static final int TILE = 4;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final int SIDE = Winograd4x4Weights.SIDE;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Each thread's room for the 36 vectors of a tile between the two passes of a transform. */
    private static final ThreadLocal<MemorySegment> SCRATCH = ThreadLocal.withInitial(
            () -> Arena.ofAuto().allocate((long) Winograd4x4Weights.POSITIONS * VL * Float.BYTES, 64));

    /**
     * The tiles of {@code out = conv(input, weight) + bias} over {@code batch} items, once the weight is known
     * to fit this path.
     */
    static Winograd4x4Tiles of(ConvPatches input, int batch, PackedMatrix weight, MemorySegment bias, MemorySegment out) {
        WinogradKernel.requireFits(weight);
        return new Winograd4x4Tiles(WinogradGrid.of(input, batch, TILE), weight.out, bias, out);
    }

    /** Tiles in all. */
    int count() {
        return grid.count();
    }

    /**
     * {@code V = B^T d B} of tile {@code t} for every channel: position {@code q}'s row at
     * {@code toOffset + q * positionBytes} of {@code to}.
     */
    void transformPatch(int t, int channels, MemorySegment to, long toOffset, long positionBytes) {
        MemorySegment scratch = SCRATCH.get();
        long[] offsets = grid.patchOffsets(t, SIDE);
        MemorySegment from = grid.input().input();
        long vector = VL * Float.BYTES;
        for (int c = 0; c < channels; c += VL) {
            long channel = (long) c * Float.BYTES;
            // d B, row by row of the patch, into the scratch (element (i, k) at vector 6 i + k) ...
            for (int i = 0; i < SIDE; i++) {
                int at = SIDE * i;
                transformInput(from, offsets[at], offsets[at + 1], offsets[at + 2], offsets[at + 3], offsets[at + 4],
                        offsets[at + 5], channel, scratch, at * vector, vector);
            }
            // ... then B^T (d B), column by column, into the rows of the positions
            for (int k = 0; k < SIDE; k++) {
                long column = k * vector;
                long row = SIDE * vector;
                transformInput(scratch, column, column + row, column + 2 * row, column + 3 * row, column + 4 * row,
                        column + 5 * row, 0, to, toOffset + channel + k * positionBytes, SIDE * positionBytes);
            }
        }
    }

    /**
     * Turns the sums of tile {@code t} for output channels {@code [firstChannel, firstChannel + channelCount)}
     * (position {@code q}'s row, from the first of those channels, at {@code from + q * positionBytes} of
     * {@code sums}) into its output pixels, {@code A^T M A + bias}: {@code A^T} down each column of {@code M}
     * into the scratch (element {@code (r, k)} at vector {@code 6 r + k}), then {@code A} along each of those
     * four rows into the pixels that fall inside the output.
     */
    void writeTile(int t, int firstChannel, int channelCount, MemorySegment sums, long from, long positionBytes) {
        MemorySegment scratch = SCRATCH.get();
        int width = grid.input().outWidth();
        long pixel = grid.firstPixel(t);
        int tileRows = grid.rowsInside(t);
        int tileColumns = grid.columnsInside(t);
        long vector = VL * Float.BYTES;
        long pixelBytes = (long) outChannels * Float.BYTES;
        for (int channel = firstChannel; channel < firstChannel + channelCount; channel += VL) {
            long channelBytes = (long) channel * Float.BYTES;
            long sumAt = from + (long) (channel - firstChannel) * Float.BYTES;
            for (int k = 0; k < SIDE; k++) {
                transformOutput(sums, sumAt + k * positionBytes, SIDE * positionBytes, null, 0, TILE,
                        scratch, k * vector, SIDE * vector);
            }
            for (int r = 0; r < tileRows; r++) {
                transformOutput(scratch, SIDE * r * vector, vector, bias, channelBytes, tileColumns,
                        out, ((pixel + (long) r * width) * outChannels + channel) * Float.BYTES, pixelBytes);
            }
        }
    }

    /**
     * {@code B^T x} of a column {@code x} of six vectors, loaded {@code skip} bytes past the offsets
     * {@code at0 .. at5} into {@code from} (zero where an offset is negative: the padding), stored at
     * {@code offset + i * stride}. Vectors go in and out through memory: as arguments of a method the JIT may
     * compile apart, they would be boxed.
     */
    private static void transformInput(MemorySegment from, long at0, long at1, long at2, long at3, long at4, long at5,
            long skip, MemorySegment to, long offset, long stride) {
        FloatVector x0 = load(from, at0, skip), x1 = load(from, at1, skip), x2 = load(from, at2, skip);
        FloatVector x3 = load(from, at3, skip), x4 = load(from, at4, skip), x5 = load(from, at5, skip);
        FloatVector two = FloatVector.broadcast(S, 2f);
        FloatVector three = FloatVector.broadcast(S, 3f);
        FloatVector four = FloatVector.broadcast(S, 4f);
        FloatVector minusFive = FloatVector.broadcast(S, -5f);
        FloatVector outer = x1.sub(x3);
        FloatVector innerTwice = x4.sub(x2).mul(two);
        // 2 (x0 + x4) + 3 (x1 - x3) - 4 x2
        x0.add(x4).fma(two, outer.fma(three, x2.mul(-4f))).intoMemorySegment(to, offset, ORDER);
        // 2 (x4 - x1) - 5 x2 - x3
        x4.sub(x1).fma(two, x2.fma(minusFive, x3.neg())).intoMemorySegment(to, offset + stride, ORDER);
        // 2 (x1 + x4) + x2 - 5 x3
        x1.add(x4).fma(two, x3.fma(minusFive, x2)).intoMemorySegment(to, offset + 2 * stride, ORDER);
        // 2 (x4 - x2) - (x1 - x3)
        innerTwice.sub(outer).intoMemorySegment(to, offset + 3 * stride, ORDER);
        // 2 (x4 - x2) + 4 (x1 - x3)
        outer.fma(four, innerTwice).intoMemorySegment(to, offset + 4 * stride, ORDER);
        // 2 (x1 + x5) + 3 (x2 - x4) - 4 x3
        x1.add(x5).fma(two, x2.sub(x4).fma(three, x3.mul(-4f))).intoMemorySegment(to, offset + 5 * stride, ORDER);
    }

    private static FloatVector load(MemorySegment from, long offset, long skip) {
        return offset < 0 ? FloatVector.zero(S) : FloatVector.fromMemorySegment(S, from, offset + skip, ORDER);
    }

    /**
     * The first {@code count} elements of {@code A^T m} for the six vectors {@code m} at {@code offset + i * stride}
     * of {@code from}, plus the vector at {@code biasOffset} of {@code bias} when there is one, stored at
     * {@code toOffset + i * toStride}: {@code m0 + (m1 + m2) + m3 + m4}, {@code (m1 - m2) + 2 m3 - m4 / 2},
     * {@code (m1 + m2) + 4 m3 + m4 / 4} and {@code (m1 - m2) + 8 m3 - m4 / 8 + m5}.
     */
    private static void transformOutput(MemorySegment from, long offset, long stride, MemorySegment bias, long biasOffset,
            int count, MemorySegment to, long toOffset, long toStride) {
        FloatVector m0 = load(from, offset, 0), m1 = load(from, offset + stride, 0), m2 = load(from, offset + 2 * stride, 0);
        FloatVector m3 = load(from, offset + 3 * stride, 0), m4 = load(from, offset + 4 * stride, 0);
        FloatVector m5 = load(from, offset + 5 * stride, 0);
        FloatVector sum = m1.add(m2);
        FloatVector difference = m1.sub(m2);
        FloatVector y0 = m0.add(sum).add(m3).add(m4);
        FloatVector y1 = m3.fma(FloatVector.broadcast(S, 2f), m4.fma(FloatVector.broadcast(S, -0.5f), difference));
        FloatVector y2 = m3.fma(FloatVector.broadcast(S, 4f), m4.fma(FloatVector.broadcast(S, 0.25f), sum));
        FloatVector y3 = m3.fma(FloatVector.broadcast(S, 8f), m4.fma(FloatVector.broadcast(S, -0.125f), difference.add(m5)));
        if (bias != null) {
            FloatVector b = FloatVector.fromMemorySegment(S, bias, biasOffset, ORDER);
            y0 = y0.add(b);
            y1 = y1.add(b);
            y2 = y2.add(b);
            y3 = y3.add(b);
        }
        y0.intoMemorySegment(to, toOffset, ORDER);
        if (count > 1) {
            y1.intoMemorySegment(to, toOffset + toStride, ORDER);
        }
        if (count > 2) {
            y2.intoMemorySegment(to, toOffset + 2 * toStride, ORDER);
        }
        if (count > 3) {
            y3.intoMemorySegment(to, toOffset + 3 * toStride, ORDER);
        }
    }
}
