package dev.jdiffusion.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The 2x2 output tiles of one Winograd convolution by F(2x2, 3x3) ({@link Winograd2x2Kernel}) and the two
 * transforms between a tile and its sums. Per input channel, the 4x4 patch {@code d} of input around a tile
 * becomes {@code V = B^T d B}; per output channel, the sums {@code M = sum over c of U[c] * V[c]} (elementwise,
 * {@code U} from {@link Winograd2x2Weights}) become the tile {@code Y = A^T M A}, with
 *
 * <pre>
 *     B^T = | 1  0 -1  0 |      A^T = | 1  1  1  0 |
 *           | 0  1  1  0 |            | 0  1 -1 -1 |
 *           | 0 -1  1  0 |
 *           | 0  1  0 -1 |
 * </pre>
 *
 * from the points 0, 1, -1 and infinity: additions only, so the transforms round no more than the sums do.
 *
 * @param grid where the tiles lie
 * @param bias one float per output channel, or null
 * @param out the output, channels-last
 */
record Winograd2x2Tiles(WinogradGrid grid, int outChannels, MemorySegment bias, MemorySegment out) {
    /** Output pixels down and across one tile. */
    static final int TILE = 2;
    private static final int SIDE = Winograd2x2Weights.SIDE;
    private static final int POSITIONS = Winograd2x2Weights.POSITIONS;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Each thread's room for the 16 vectors of a tile between the two passes of a transform. */
    private static final ThreadLocal<MemorySegment> SCRATCH = ThreadLocal.withInitial(
            () -> Arena.ofAuto().allocate((long) POSITIONS * VL * Float.BYTES, 64));

    /**
     * The tiles of {@code out = conv(input, weight) + bias} over {@code batch} items, once the weight is known
     * to fit this path.
     */
    static Winograd2x2Tiles of(ConvPatches input, int batch, PackedMatrix weight, MemorySegment bias, MemorySegment out) {
        WinogradKernel.requireFits(weight);
        return new Winograd2x2Tiles(WinogradGrid.of(input, batch, TILE), weight.out, bias, out);
    }

    /** Tiles in all. */
    int count() {
        return grid.count();
    }

    /**
     * {@code V = B^T d B} of tile {@code t} for every channel ({@code d B} row by row into the scratch, then
     * {@code B^T} down it): position {@code q}'s row at {@code toOffset + q * positionBytes} of {@code to}.
     */
    void transformPatch(int t, int channels, MemorySegment to, long toOffset, long positionBytes) {
        MemorySegment scratch = SCRATCH.get();
        long[] offsets = grid.patchOffsets(t, SIDE);
        MemorySegment from = grid.input().input();
        long vector = VL * Float.BYTES;
        for (int c = 0; c < channels; c += VL) {
            long channel = (long) c * Float.BYTES;
            for (int i = 0; i < SIDE; i++) {
                int at = SIDE * i;
                transformInput(from, offsets[at], offsets[at + 1], offsets[at + 2], offsets[at + 3], channel, scratch,
                        at * vector, vector);
            }
            for (int k = 0; k < SIDE; k++) {
                long column = k * vector;
                long row = SIDE * vector;
                transformInput(scratch, column, column + row, column + 2 * row, column + 3 * row, 0, to,
                        toOffset + channel + k * positionBytes, SIDE * positionBytes);
            }
        }
    }

    /**
     * Turns the sums of tile {@code t} for output channels {@code [firstChannel, firstChannel + channelCount)}
     * (position {@code q}'s row, from the first of those channels, at {@code from + q * positionBytes} of
     * {@code sums}) into its output pixels, {@code A^T M A + bias}: {@code A^T} down each column of {@code M}
     * into the scratch (element {@code (r, k)} at vector {@code 4 r + k}), then {@code A} along each of those
     * two rows into the pixels that fall inside the output.
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
                transformOutput(sums, sumAt + k * positionBytes, SIDE * positionBytes, null, 0, TILE, scratch,
                        k * vector, SIDE * vector);
            }
            for (int r = 0; r < tileRows; r++) {
                transformOutput(scratch, SIDE * r * vector, vector, bias, channelBytes, tileColumns, out,
                        ((pixel + (long) r * width) * outChannels + channel) * Float.BYTES, pixelBytes);
            }
        }
    }

    /**
     * {@code B^T x} of a column {@code x} of four vectors, loaded {@code skip} bytes past the offsets
     * {@code at0 .. at3} into {@code from} (zero where an offset is negative: the padding), stored at
     * {@code offset + i * stride}: {@code x0 - x2}, {@code x1 + x2}, {@code x2 - x1} and {@code x1 - x3}.
     */
    private static void transformInput(MemorySegment from, long at0, long at1, long at2, long at3, long skip,
            MemorySegment to, long offset, long stride) {
        FloatVector x0 = load(from, at0, skip), x1 = load(from, at1, skip);
        FloatVector x2 = load(from, at2, skip), x3 = load(from, at3, skip);
        x0.sub(x2).intoMemorySegment(to, offset, ORDER);
        x1.add(x2).intoMemorySegment(to, offset + stride, ORDER);
        x2.sub(x1).intoMemorySegment(to, offset + 2 * stride, ORDER);
        x1.sub(x3).intoMemorySegment(to, offset + 3 * stride, ORDER);
    }

    private static FloatVector load(MemorySegment from, long offset, long skip) {
        return offset < 0 ? FloatVector.zero(S) : FloatVector.fromMemorySegment(S, from, offset + skip, ORDER);
    }

    /**
     * The first {@code count} elements of {@code A^T m} for the four vectors {@code m} at
     * {@code offset + i * stride} of {@code from}, plus the vector at {@code biasOffset} of {@code bias} when
     * there is one, stored at {@code toOffset + i * toStride}: {@code m0 + m1 + m2} and {@code m1 - m2 - m3}.
     */
    private static void transformOutput(MemorySegment from, long offset, long stride, MemorySegment bias,
            long biasOffset, int count, MemorySegment to, long toOffset, long toStride) {
        FloatVector m0 = load(from, offset, 0), m1 = load(from, offset + stride, 0);
        FloatVector m2 = load(from, offset + 2 * stride, 0), m3 = load(from, offset + 3 * stride, 0);
        FloatVector y0 = m0.add(m1).add(m2);
        FloatVector y1 = m1.sub(m2).sub(m3);
        if (bias != null) {
            FloatVector b = FloatVector.fromMemorySegment(S, bias, biasOffset, ORDER);
            y0 = y0.add(b);
            y1 = y1.add(b);
        }
        y0.intoMemorySegment(to, toOffset, ORDER);
        if (count > 1) {
            y1.intoMemorySegment(to, toOffset + toStride, ORDER);
        }
    }
}
