package dev.jdiffusion.cpu;

import dev.jdiffusion.weights.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A 3x3 convolution of stride 1 and padding 1 by Winograd's minimal filtering F(4x4, 3x3): each 4x4 tile of
 * the output comes from the 6x6 patch of input around it in 36 multiplications per pair of channels instead
 * of 144, four times fewer. Per tile and input channel the patch {@code d} becomes {@code V = B^T d B}; per
 * output channel, the sums {@code M = sum over c of U[c] * V[c]} (elementwise, {@code U} from
 * {@link WinogradWeights}) become the tile {@code Y = A^T M A}, with
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
 * <p>The sums over channels are 36 matrix products, one per element of the 6x6 tile: rows are tiles, K the
 * input channels, columns the output channels. The tiles go in blocks: the patches of a block are transformed
 * (36 matrices of {@code tiles x channels}), the products run on {@link GemmKernel} with the transformed
 * weights as its panels, and the sums are transformed into the output.
 */
final class WinogradKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    /** Output pixels down and across one tile. */
    private static final int TILE = 4;
    private static final int SIDE = WinogradWeights.SIDE;
    private static final int POSITIONS = WinogradWeights.POSITIONS;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /**
     * Fewest output pixels per image for this path: the U-Net's 32x32 and 64x64 levels and the VAE decoder's
     * levels, where it was measured (1.8 to 2.7 times as fast as the direct convolution). Each call transforms
     * its weights afresh ({@link WinogradWeights}), a cost that fewer pixels spread less thinly: at 16x16 (1280
     * channels) the two paths took the same time, at 8x8 this one was slower. Per image, not per batch, so
     * that a batch computes what its items would alone.
     */
    static final int MIN_PIXELS = 32 * 32;
    /**
     * Fewest input and output channels for which it was measured (128, the VAE decoder's full-resolution
     * level, 1.8 times as fast as direct).
     */
    static final int MIN_CHANNELS = 128;
    /**
     * Most floats of transformed patches, and of sums, for one block of tiles (32 MiB each): enough rows that
     * the products split over the threads by rows, each packing its rows once for many panels.
     */
    static final long BLOCK_FLOATS = 8L << 20;
    /**
     * Most bytes of transformed weights at once (64 MiB): the output channels go in groups of panels whose
     * transformed weights fit, each group over all the tiles (the patches transformed again for each group).
     */
    static final long GROUP_BYTES = 64L << 20;
    /** Tiles per task of the transforms. */
    private static final int TILES_PER_TASK = 16;
    /** Each thread's room for the 36 vectors of a tile between the two passes of a transform. */
    private static final ThreadLocal<MemorySegment> SCRATCH = ThreadLocal.withInitial(
            () -> Arena.ofAuto().allocate((long) POSITIONS * VL * Float.BYTES, 64));

    private WinogradKernel() {}

    /**
     * Whether a convolution takes this path: a 3x3 kernel, stride 1, padding 1 all round (an output the size
     * of the input), whole vectors of at least {@link #MIN_CHANNELS} channels in and out, and at least
     * {@link #MIN_PIXELS} output pixels per image.
     */
    static boolean applies(ConvPatches input, int outChannels) {
        return input.kernelHeight() == 3 && input.kernelWidth() == 3 && input.stride() == 1 && input.padTop() == 1
                && input.padLeft() == 1 && input.outHeight() == input.height() && input.outWidth() == input.width()
                && input.channels() % VL == 0 && outChannels % VL == 0 && input.channels() >= MIN_CHANNELS
                && outChannels >= MIN_CHANNELS
                && (long) input.outHeight() * input.outWidth() >= MIN_PIXELS;
    }

    /**
     * {@code out = conv(input, weight) + bias} over the geometry of {@code input} (its output the size of its
     * input, channels-last, {@code batch} items), the blocks' buffers from {@code memory}.
     */
    static void convolve(Parallel parallel, CpuMemoryPool memory, ConvPatches input, int batch, PackedMatrix weight,
            MemorySegment bias, MemorySegment out) {
        convolve(parallel, memory, input, batch, weight, bias, out, BLOCK_FLOATS, GROUP_BYTES);
    }

    /**
     * As above, with at most {@code blockFloats} floats of patches and of sums per block (at least one tile's)
     * and {@code groupBytes} of transformed weights at once (at least one panel's).
     */
    static void convolve(Parallel parallel, CpuMemoryPool memory, ConvPatches input, int batch, PackedMatrix weight,
            MemorySegment bias, MemorySegment out, long blockFloats, long groupBytes) {
        if (weight.channels % VL != 0 || weight.out % VL != 0) {
            throw new IllegalArgumentException("a Winograd convolution takes whole vectors of channels, not "
                    + weight.channels + " -> " + weight.out);
        }
        if (weight.kernelHeight != 3 || weight.kernelWidth != 3) {
            throw new IllegalArgumentException("a Winograd convolution takes a 3x3 kernel, not "
                    + weight.kernelHeight + "x" + weight.kernelWidth);
        }
        Tiles tiles = new Tiles(input, batch, weight.out, bias, out);
        int channels = weight.channels;
        long tileFloats = (long) POSITIONS * Math.max(channels, weight.out);
        int perBlock = (int) Math.max(1, Math.min(tiles.count, blockFloats / tileFloats));
        long panelBytes = WinogradWeights.bytes(channels, 1);
        int perGroup = (int) Math.max(1, Math.min(weight.panels, groupBytes / panelBytes));
        // the same sizes for every convolution, whatever it needs of them, so that the pool hands back the same
        // three buffers rather than keeping a set for each shape
        CpuMemoryPool.Allocation transformed = memory.allocate(Math.max(panelBytes, groupBytes));
        CpuMemoryPool.Allocation patches = memory.allocate(Math.max(tileFloats, blockFloats) * Float.BYTES);
        CpuMemoryPool.Allocation sums = memory.allocate(Math.max(tileFloats, blockFloats) * Float.BYTES);
        try {
            GemmKernel.Panels directPanels = weight.gemmPanels(parallel);
            for (int p0 = 0; p0 < weight.panels; p0 += perGroup) {
                int panels = Math.min(perGroup, weight.panels - p0);
                int firstChannel = p0 * GemmLayout.NR;
                OutputGroup group = new OutputGroup(firstChannel,
                        Math.min(panels * GemmLayout.NR, weight.out - firstChannel), panels);
                MemorySegment u = transformed.segment().asSlice(0, panels * panelBytes);
                WinogradWeights.transform(parallel, directPanels, p0, panels, u);
                for (int t0 = 0; t0 < tiles.count; t0 += perBlock) {
                    convolveBlock(parallel, tiles, t0, Math.min(perBlock, tiles.count - t0), channels, u, group,
                            patches.segment(), sums.segment());
                }
            }
        } finally {
            transformed.release().run();
            patches.release().run();
            sums.release().run();
        }
    }

    /** Output channels {@code [first, first + count)}: {@code panels} panels of the weight, transformed together. */
    private record OutputGroup(int first, int count, int panels) {}

    /**
     * Tiles {@code [first, first + count)} for the output channels of {@code group}: their patches transformed
     * into {@code patches}, the 36 products with the group's transformed weights {@code u} into {@code sums},
     * and the sums transformed into the output.
     */
    private static void convolveBlock(Parallel parallel, Tiles tiles, int first, int count, int channels, MemorySegment u,
            OutputGroup group, MemorySegment patches, MemorySegment sums) {
        long patchBytes = (long) count * channels * Float.BYTES;
        long sumBytes = (long) count * group.count * Float.BYTES;
        long weightBytes = u.byteSize() / POSITIONS;
        parallel.forEach(tasks(count), task -> {
            long[] offsets = new long[POSITIONS];
            for (int r = task * TILES_PER_TASK; r < Math.min(count, (task + 1) * TILES_PER_TASK); r++) {
                transformPatches(tiles, first + r, channels, offsets, SCRATCH.get(), patches,
                        (long) r * channels * Float.BYTES, patchBytes);
            }
        });
        for (int q = 0; q < POSITIONS; q++) {
            GemmKernel.Panels panels = new GemmKernel.Panels(u.asSlice(q * weightBytes, weightBytes), DType.F32, channels,
                    group.count, group.panels);
            GemmKernel.gemm(parallel, new DenseRows(patches.asSlice(q * patchBytes, patchBytes), channels), count, panels,
                    null, sums.asSlice(q * sumBytes, sumBytes));
        }
        parallel.forEach(tasks(count), task -> {
            for (int r = task * TILES_PER_TASK; r < Math.min(count, (task + 1) * TILES_PER_TASK); r++) {
                writeTile(tiles, first + r, group, sums, (long) r * group.count * Float.BYTES, sumBytes, SCRATCH.get());
            }
        });
    }

    /**
     * The 4x4 output tiles of one convolution: {@code count} of them, item by item, row by row (those at the
     * bottom and right edges may hang over the output).
     */
    private record Tiles(ConvPatches input, int rows, int columns, int count, int outChannels, MemorySegment bias,
            MemorySegment out) {
        Tiles(ConvPatches input, int batch, int outChannels, MemorySegment bias, MemorySegment out) {
            this(input, (input.outHeight() + TILE - 1) / TILE, (input.outWidth() + TILE - 1) / TILE,
                    Math.multiplyExact(batch, ((input.outHeight() + TILE - 1) / TILE) * ((input.outWidth() + TILE - 1) / TILE)),
                    outChannels, bias, out);
        }
    }

    private static int tasks(int tiles) {
        return (tiles + TILES_PER_TASK - 1) / TILES_PER_TASK;
    }

    /**
     * {@code V = B^T d B} of tile {@code t} for every channel: position {@code q}'s row at
     * {@code to + q * positionBytes}; {@code offsets} (36 longs) and {@code scratch} (36 vectors) are the
     * caller's.
     */
    private static void transformPatches(Tiles tiles, int t, int channels, long[] offsets, MemorySegment scratch,
            MemorySegment to, long toOffset, long positionBytes) {
        int perItem = tiles.rows * tiles.columns;
        int b = t / perItem;
        int tile = t - b * perItem;
        int y0 = tile / tiles.columns * TILE - 1;
        int x0 = tile % tiles.columns * TILE - 1;
        for (int i = 0; i < SIDE; i++) {
            for (int j = 0; j < SIDE; j++) {
                offsets[SIDE * i + j] = tiles.input.pixelOffset(b, y0 + i, x0 + j);
            }
        }
        MemorySegment input = tiles.input.input();
        long vector = VL * Float.BYTES;
        for (int c = 0; c < channels; c += VL) {
            long channel = (long) c * Float.BYTES;
            // d B, row by row of the patch, into the scratch (element (i, k) at vector 6 i + k) ...
            for (int i = 0; i < SIDE; i++) {
                int at = SIDE * i;
                transformInput(input, offsets[at], offsets[at + 1], offsets[at + 2], offsets[at + 3], offsets[at + 4],
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
     * Turns the sums of tile {@code t} for the output channels of {@code group} (position {@code q}'s row, of
     * the group's channels only, at {@code from + q * positionBytes}) into its output pixels, {@code A^T M A + bias}: {@code A^T} down each column of {@code M} into the scratch (element
     * {@code (r, k)} at vector {@code 6 r + k}), then {@code A} along each of those four rows into the pixels
     * that fall inside the output.
     */
    private static void writeTile(Tiles tiles, int t, OutputGroup group, MemorySegment sums, long from,
            long positionBytes, MemorySegment scratch) {
        int out = tiles.outChannels;
        int height = tiles.input.outHeight();
        int width = tiles.input.outWidth();
        int perItem = tiles.rows * tiles.columns;
        int b = t / perItem;
        int tile = t - b * perItem;
        int y = tile / tiles.columns * TILE;
        int x = tile % tiles.columns * TILE;
        long pixel = ((long) b * height + y) * width + x;
        int rows = Math.min(TILE, height - y);
        int columns = Math.min(TILE, width - x);
        long vector = VL * Float.BYTES;
        long pixelBytes = (long) out * Float.BYTES;
        for (int channel = group.first; channel < group.first + group.count; channel += VL) {
            long channelBytes = (long) channel * Float.BYTES;
            long sumAt = from + (long) (channel - group.first) * Float.BYTES;
            for (int k = 0; k < SIDE; k++) {
                transformOutput(sums, sumAt + k * positionBytes, SIDE * positionBytes, null, 0, TILE,
                        scratch, k * vector, SIDE * vector);
            }
            for (int r = 0; r < rows; r++) {
                transformOutput(scratch, SIDE * r * vector, vector, tiles.bias, channelBytes, columns,
                        tiles.out, ((pixel + (long) r * width) * out + channel) * Float.BYTES, pixelBytes);
            }
        }
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
