package dev.jdiffusion.cpu;

import dev.jdiffusion.weights.DType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A 3x3 convolution of stride 1 and padding 1 by Winograd's minimal filtering F(2x2, 3x3): each 2x2 tile of
 * the output comes from the 4x4 patch of input around it in 16 multiplications per pair of channels instead
 * of 36, 2.25 times fewer. Per tile and input channel the patch {@code d} becomes {@code V = B^T d B}; per
 * output channel, the sums {@code M = sum over c of U[c] * V[c]} (elementwise, {@code U} from
 * {@link WinogradWeights}) become the tile {@code Y = A^T M A}, with
 *
 * <pre>
 *     B^T = | 1  0 -1  0 |      A^T = | 1  1  1  0 |
 *           | 0  1  1  0 |            | 0  1 -1 -1 |
 *           | 0 -1  1  0 |
 *           | 0  1  0 -1 |
 * </pre>
 *
 * The sums over channels are sixteen matrix products, one per element of the 4x4 tile: rows are tiles,
 * K the input channels, columns the output channels. The tiles go in blocks: the patches of a block are
 * transformed (sixteen matrices of {@code tiles x channels}), the sixteen products run on {@link GemmKernel}
 * with the transformed weights as its panels, and the sums are transformed into the output. The transforms
 * only add and subtract, so the result differs from the direct convolution by rounding alone, of the same
 * size (measured in the tests).
 */
final class WinogradKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final int POSITIONS = WinogradWeights.POSITIONS;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /**
     * Fewest output pixels per image for this path: the VAE decoder's levels from 128x128 up, where it was
     * measured. Its transformed weights are F32, 16/9 as many values as the stored ones (3.6 times the bytes of
     * F16 ones). Per image, not per batch, so that a batch computes what its items would alone.
     */
    static final int MIN_PIXELS = 128 * 128;
    /**
     * Fewest input and output channels for which the transform pays. The transformed patches and sums of a
     * block travel through memory: per multiply-add they cost about {@code 8 / channels} bytes, which at 128
     * channels is more than the memory of this kind of machine delivers, and the direct convolution wins.
     */
    static final int MIN_CHANNELS = 256;
    /**
     * Most floats of transformed patches, and of sums, for one block of tiles (32 MiB each): enough rows that
     * the products split over the threads by rows, each packing its rows once for many panels.
     */
    static final long BLOCK_FLOATS = 8L << 20;
    /** Tiles per task of the transforms. */
    private static final int TILES_PER_TASK = 16;

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
        if (weight.channels % VL != 0 || weight.out % VL != 0) {
            throw new IllegalArgumentException("a Winograd convolution takes whole vectors of channels, not "
                    + weight.channels + " -> " + weight.out);
        }
        MemorySegment u = weight.winogradPanels(parallel);
        Tiles tiles = new Tiles(input, batch, weight.out, bias, out);
        int channels = weight.channels;
        int perBlock = (int) Math.min(tiles.count, BLOCK_FLOATS / (POSITIONS * Math.max(channels, weight.out)));
        long weightBytes = u.byteSize() / POSITIONS;
        CpuMemoryPool.Allocation patches = memory.allocate((long) POSITIONS * perBlock * channels * Float.BYTES);
        CpuMemoryPool.Allocation sums = memory.allocate((long) POSITIONS * perBlock * weight.out * Float.BYTES);
        try {
            for (int t0 = 0; t0 < tiles.count; t0 += perBlock) {
                int first = t0;
                int count = Math.min(perBlock, tiles.count - t0);
                long patchBytes = (long) count * channels * Float.BYTES;
                long sumBytes = (long) count * weight.out * Float.BYTES;
                parallel.forEach((count + TILES_PER_TASK - 1) / TILES_PER_TASK, task -> {
                    long[] offsets = new long[POSITIONS];
                    for (int r = task * TILES_PER_TASK; r < Math.min(count, (task + 1) * TILES_PER_TASK); r++) {
                        transformPatches(tiles, first + r, channels, offsets, patches.segment(), (long) r * channels * Float.BYTES,
                                patchBytes);
                    }
                });
                for (int q = 0; q < POSITIONS; q++) {
                    GemmKernel.Panels panels = new GemmKernel.Panels(u.asSlice(q * weightBytes, weightBytes), DType.F32,
                            channels, weight.out, weight.panels);
                    GemmKernel.gemm(parallel, new DenseRows(patches.segment().asSlice(q * patchBytes, patchBytes), channels),
                            count, panels, null, sums.segment().asSlice(q * sumBytes, sumBytes));
                }
                parallel.forEach((count + TILES_PER_TASK - 1) / TILES_PER_TASK, task -> {
                    for (int r = task * TILES_PER_TASK; r < Math.min(count, (task + 1) * TILES_PER_TASK); r++) {
                        writeTile(tiles, first + r, sums.segment(), (long) r * weight.out * Float.BYTES, sumBytes);
                    }
                });
            }
        } finally {
            patches.release().run();
            sums.release().run();
        }
    }

    /** The 2x2 output tiles of one convolution: {@code count} of them, item by item, row by row. */
    private record Tiles(ConvPatches input, int rows, int columns, int count, int outChannels, MemorySegment bias,
            MemorySegment out) {
        Tiles(ConvPatches input, int batch, int outChannels, MemorySegment bias, MemorySegment out) {
            this(input, (input.outHeight() + 1) / 2, (input.outWidth() + 1) / 2,
                    Math.multiplyExact(batch, ((input.outHeight() + 1) / 2) * ((input.outWidth() + 1) / 2)), outChannels,
                    bias, out);
        }
    }

    /**
     * {@code V = B^T d B} of tile {@code t} for every channel: position {@code q}'s row at
     * {@code to + q * positionBytes}; {@code offsets} (16 longs) is the caller's scratch for the patch's pixels.
     */
    private static void transformPatches(Tiles tiles, int t, int channels, long[] offsets, MemorySegment to,
            long toOffset, long positionBytes) {
        int perItem = tiles.rows * tiles.columns;
        int b = t / perItem;
        int tile = t - b * perItem;
        int y0 = tile / tiles.columns * 2 - 1;
        int x0 = tile % tiles.columns * 2 - 1;
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                offsets[4 * i + j] = tiles.input.pixelOffset(b, y0 + i, x0 + j);
            }
        }
        MemorySegment input = tiles.input.input();
        for (int c = 0; c < channels; c += VL) {
            long channel = (long) c * Float.BYTES;
            transformPatch(input, offsets, channel, to, toOffset + channel, positionBytes);
        }
    }

    /**
     * One vector of channels of one tile: loads its 4x4 patch {@code d} ({@code channel} bytes into each pixel
     * of {@code offsets}) and stores {@code V = B^T d B}, position {@code q} at
     * {@code to + q * positionStride}. {@code B^T d} has the rows {@code d0 - d2, d1 + d2, d2 - d1, d1 - d3};
     * each of them times {@code B} is the same combination of its columns.
     */
    private static void transformPatch(MemorySegment input, long[] offsets, long channel, MemorySegment to,
            long toOffset, long positionStride) {
        FloatVector d00 = pixel(input, offsets[0], channel), d01 = pixel(input, offsets[1], channel);
        FloatVector d02 = pixel(input, offsets[2], channel), d03 = pixel(input, offsets[3], channel);
        FloatVector d10 = pixel(input, offsets[4], channel), d11 = pixel(input, offsets[5], channel);
        FloatVector d12 = pixel(input, offsets[6], channel), d13 = pixel(input, offsets[7], channel);
        FloatVector d20 = pixel(input, offsets[8], channel), d21 = pixel(input, offsets[9], channel);
        FloatVector d22 = pixel(input, offsets[10], channel), d23 = pixel(input, offsets[11], channel);
        FloatVector d30 = pixel(input, offsets[12], channel), d31 = pixel(input, offsets[13], channel);
        FloatVector d32 = pixel(input, offsets[14], channel), d33 = pixel(input, offsets[15], channel);
        long row = 4 * positionStride;
        storeRow(d00.sub(d20), d01.sub(d21), d02.sub(d22), d03.sub(d23), to, toOffset, positionStride);
        storeRow(d10.add(d20), d11.add(d21), d12.add(d22), d13.add(d23), to, toOffset + row, positionStride);
        storeRow(d20.sub(d10), d21.sub(d11), d22.sub(d12), d23.sub(d13), to, toOffset + 2 * row, positionStride);
        storeRow(d10.sub(d30), d11.sub(d31), d12.sub(d32), d13.sub(d33), to, toOffset + 3 * row, positionStride);
    }

    private static FloatVector pixel(MemorySegment input, long offset, long channel) {
        return offset < 0 ? FloatVector.zero(S) : FloatVector.fromMemorySegment(S, input, offset + channel, ORDER);
    }

    /** One row of {@code (B^T d) B}: the columns {@code t0 - t2, t1 + t2, t2 - t1, t1 - t3}. */
    private static void storeRow(FloatVector t0, FloatVector t1, FloatVector t2, FloatVector t3, MemorySegment to,
            long offset, long stride) {
        t0.sub(t2).intoMemorySegment(to, offset, ORDER);
        t1.add(t2).intoMemorySegment(to, offset + stride, ORDER);
        t2.sub(t1).intoMemorySegment(to, offset + 2 * stride, ORDER);
        t1.sub(t3).intoMemorySegment(to, offset + 3 * stride, ORDER);
    }

    /**
     * Turns the sums of tile {@code t} (position {@code q}'s row at {@code from + q * positionBytes}) into its
     * output pixels: {@code A^T M A + bias}, where {@code A^T M} has the rows {@code m0 + m1 + m2} and
     * {@code m1 - m2 - m3} and each of them times {@code A} is the same combination of its columns.
     */
    private static void writeTile(Tiles tiles, int t, MemorySegment sums, long from, long positionBytes) {
        int out = tiles.outChannels;
        int height = tiles.input.outHeight();
        int width = tiles.input.outWidth();
        int perItem = tiles.rows * tiles.columns;
        int b = t / perItem;
        int tile = t - b * perItem;
        int y = tile / tiles.columns * 2;
        int x = tile % tiles.columns * 2;
        long pixel = ((long) b * height + y) * width + x;
        boolean right = x + 1 < width;
        boolean below = y + 1 < height;
        long q = positionBytes;
        long pixelBytes = (long) out * Float.BYTES;
        for (int channel = 0; channel < out; channel += VL) {
            FloatVector bias = tiles.bias == null ? FloatVector.zero(S)
                    : FloatVector.fromMemorySegment(S, tiles.bias, (long) channel * Float.BYTES, ORDER);
            long at = from + (long) channel * Float.BYTES;
            FloatVector m00 = sum(sums, at), m01 = sum(sums, at + q), m02 = sum(sums, at + 2 * q);
            FloatVector m03 = sum(sums, at + 3 * q), m10 = sum(sums, at + 4 * q), m11 = sum(sums, at + 5 * q);
            FloatVector m12 = sum(sums, at + 6 * q), m13 = sum(sums, at + 7 * q), m20 = sum(sums, at + 8 * q);
            FloatVector m21 = sum(sums, at + 9 * q), m22 = sum(sums, at + 10 * q), m23 = sum(sums, at + 11 * q);
            FloatVector m30 = sum(sums, at + 12 * q), m31 = sum(sums, at + 13 * q), m32 = sum(sums, at + 14 * q);
            FloatVector m33 = sum(sums, at + 15 * q);
            long offset = (pixel * out + channel) * Float.BYTES;
            storePixels(m00.add(m10).add(m20), m01.add(m11).add(m21), m02.add(m12).add(m22), m03.add(m13).add(m23),
                    bias, tiles.out, offset, pixelBytes, right);
            if (below) {
                storePixels(m10.sub(m20).sub(m30), m11.sub(m21).sub(m31), m12.sub(m22).sub(m32), m13.sub(m23).sub(m33),
                        bias, tiles.out, offset + width * pixelBytes, pixelBytes, right);
            }
        }
    }

    private static FloatVector sum(MemorySegment sums, long offset) {
        return FloatVector.fromMemorySegment(S, sums, offset, ORDER);
    }

    /** One row of a 2x2 output tile from a row {@code s} of {@code A^T M}: {@code s0 + s1 + s2}, then {@code s1 - s2 - s3}. */
    private static void storePixels(FloatVector s0, FloatVector s1, FloatVector s2, FloatVector s3, FloatVector bias,
            MemorySegment out, long offset, long pixelBytes, boolean right) {
        s0.add(s1).add(s2).add(bias).intoMemorySegment(out, offset, ORDER);
        if (right) {
            s1.sub(s2).sub(s3).add(bias).intoMemorySegment(out, offset + pixelBytes, ORDER);
        }
    }
}
