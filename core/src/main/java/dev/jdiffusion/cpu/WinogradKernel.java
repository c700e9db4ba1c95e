package dev.jdiffusion.cpu;

import dev.jdiffusion.weights.DType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * A 3x3 convolution of stride 1 and padding 1 by Winograd's minimal filtering F(4x4, 3x3): each 4x4 tile of
 * the output comes from the 6x6 patch of input around it in 36 multiplications per pair of channels instead
 * of 144, four times fewer. The transforms between tiles, patches and sums are {@link Winograd4x4Tiles}'s, those
 * of the weights {@link Winograd4x4Weights}'s. Images too small for it (under {@link #MIN_PIXELS}) go to
 * {@link Winograd2x2Kernel}'s F(2x2, 3x3).
 *
 * <p>The sums over channels are 36 matrix products, one per element of the 6x6 tile: rows are tiles, K the
 * input channels, columns the output channels. They run in one of two schedules, chosen by the input channels
 * ({@link #MAX_CHUNKED_CHANNELS}). Here, the tiles go in large blocks shared by the threads: the patches of a
 * block are transformed (36 matrices of {@code tiles x channels}), the products run on {@link GemmKernel} with
 * the transformed weights as its panels, each on one thread, and the sums are transformed into the output;
 * each phase's result goes out to L3 or memory and comes back for the next. {@link WinogradChunks} instead
 * carries small chunks of tiles through all three phases on one thread, in its caches, which pays while the
 * weights are small.
 */
final class WinogradKernel {
    private static final int VL = FloatVector.SPECIES_PREFERRED.length();
    private static final int POSITIONS = Winograd4x4Weights.POSITIONS;
    /**
     * Fewest output pixels per image for F(4x4): the U-Net's 32x32 and 64x64 levels and the VAE decoder's levels,
     * where it was measured (1.8 to 2.7 times as fast as the direct convolution). Each call transforms its
     * weights afresh ({@link Winograd4x4Weights}), a cost that fewer pixels spread less thinly: at 16x16 (1280
     * channels) it took as long as the direct convolution, at 8x8 longer. Per image, not per batch, so that a
     * batch computes what its items would alone.
     */
    static final int MIN_PIXELS = 32 * 32;
    /**
     * Fewest output pixels per image for F(2x2) ({@link Winograd2x2Kernel}), below {@link #MIN_PIXELS}: the
     * U-Net's 16x16 and 8x8 levels, where it was measured (1.7 and 1.3 times as fast as the direct convolution).
     * At 4x4 (a 256x256 picture's last level) a product would have eight rows.
     */
    static final int MIN_SMALL_TILE_PIXELS = 8 * 8;
    /**
     * Fewest input and output channels for which it was measured (128, the VAE decoder's full-resolution
     * level, 1.8 times as fast as direct).
     */
    static final int MIN_CHANNELS = 128;
    /**
     * Most input channels that go in chunks ({@link WinogradChunks}): the VAE decoder's full-resolution level,
     * where its convolution of 128 channels took 1.23 times as long in blocks on two threads. At 256 channels the
     * two schedules were as fast (0.99x and 1.04x), and from 320 on (the U-Net's levels, the decoder's 512)
     * chunks were slower, down to half the speed: each chunk streams all of the transformed weights, which grow
     * with the square of the channels.
     */
    static final int MAX_CHUNKED_CHANNELS = 128;
    /**
     * Most floats of transformed patches, and of sums, for one block of tiles (32 MiB each): enough rows that
     * each product packs its rows of patches once for many panels.
     */
    static final long BLOCK_FLOATS = 8L << 20;
    /**
     * Most bytes of transformed weights at once (64 MiB): the output channels go in groups of panels whose
     * transformed weights fit, each group over all the tiles (the patches transformed again for each group).
     */
    static final long GROUP_BYTES = 64L << 20;
    /** Fewest products per thread in a block: where 36 positions are fewer, each product's rows are split. */
    private static final int PRODUCTS_PER_THREAD = 4;
    /** Where a product runs on the thread that took it. */
    private static final Parallel ONE_THREAD = new Parallel(1);

    private WinogradKernel() {}

    /**
     * Whether a convolution takes a Winograd path: a 3x3 kernel, stride 1, padding 1 all round (an output the
     * size of the input), whole vectors of at least {@link #MIN_CHANNELS} channels in and out, and at least
     * {@link #MIN_SMALL_TILE_PIXELS} output pixels per image.
     */
    static boolean applies(ConvPatches input, int outChannels) {
        return input.kernelHeight() == 3 && input.kernelWidth() == 3 && input.stride() == 1 && input.padTop() == 1
                && input.padLeft() == 1 && input.outHeight() == input.height() && input.outWidth() == input.width()
                && input.channels() % VL == 0 && outChannels % VL == 0 && input.channels() >= MIN_CHANNELS
                && outChannels >= MIN_CHANNELS
                && (long) input.outHeight() * input.outWidth() >= MIN_SMALL_TILE_PIXELS;
    }

    /**
     * Checks that a weight fits a Winograd convolution: a 3x3 kernel, whole vectors of channels in and out (the
     * transforms go a vector of channels at a time).
     */
    static void requireFits(PackedMatrix weight) {
        if (weight.channels % VL != 0 || weight.out % VL != 0) {
            throw new IllegalArgumentException("a Winograd convolution takes whole vectors of channels, not "
                    + weight.channels + " -> " + weight.out);
        }
        if (weight.kernelHeight != 3 || weight.kernelWidth != 3) {
            throw new IllegalArgumentException("a Winograd convolution takes a 3x3 kernel, not "
                    + weight.kernelHeight + "x" + weight.kernelWidth);
        }
    }

    /**
     * {@code out = conv(input, weight) + bias} over the geometry of {@code input} (its output the size of its
     * input, channels-last, {@code batch} items): by F(4x4) in chunks or in blocks (their buffers from
     * {@code memory}), or by F(2x2) below {@link #MIN_PIXELS}.
     */
    static void convolve(Parallel parallel, CpuMemoryPool memory, ConvPatches input, int batch, PackedMatrix weight,
            MemorySegment bias, MemorySegment out) {
        if ((long) input.outHeight() * input.outWidth() < MIN_PIXELS) {
            Winograd2x2Kernel.convolve(parallel, memory, input, batch, weight, bias, out, BLOCK_FLOATS);
        } else if (weight.channels <= MAX_CHUNKED_CHANNELS) {
            WinogradChunks.convolve(parallel, input, batch, weight, bias, out);
        } else {
            convolveInBlocks(parallel, memory, input, batch, weight, bias, out, BLOCK_FLOATS, GROUP_BYTES);
        }
    }

    /**
     * As above by F(4x4), in blocks of at most {@code blockFloats} floats of patches and of sums (at least one
     * tile's), with {@code groupBytes} of transformed weights at once (at least one panel's).
     */
    static void convolveInBlocks(Parallel parallel, CpuMemoryPool memory, ConvPatches input, int batch,
            PackedMatrix weight, MemorySegment bias, MemorySegment out, long blockFloats, long groupBytes) {
        Winograd4x4Tiles tiles = Winograd4x4Tiles.of(input, batch, weight, bias, out);
        int channels = weight.channels;
        long tileFloats = (long) POSITIONS * Math.max(channels, weight.out);
        int perBlock = (int) Math.max(1, Math.min(tiles.count(), blockFloats / tileFloats));
        long panelBytes = Winograd4x4Weights.bytes(channels, 1);
        // the same sizes for every convolution, whatever it needs of them, so that the pool hands back the same
        // three buffers rather than keeping a set for each shape
        CpuMemoryPool.Allocation transformed = memory.allocate(Math.max(panelBytes, groupBytes));
        CpuMemoryPool.Allocation patches = memory.allocate(Math.max(tileFloats, blockFloats) * Float.BYTES);
        CpuMemoryPool.Allocation sums = memory.allocate(Math.max(tileFloats, blockFloats) * Float.BYTES);
        try {
            GemmKernel.Panels directPanels = weight.gemmPanels(parallel);
            for (Winograd4x4Weights.Group group : Winograd4x4Weights.groups(weight, groupBytes)) {
                MemorySegment u = transformed.segment().asSlice(0, group.panels() * panelBytes);
                Winograd4x4Weights.transform(parallel, directPanels, group, u);
                for (int t0 = 0; t0 < tiles.count(); t0 += perBlock) {
                    convolveBlock(parallel, tiles, t0, Math.min(perBlock, tiles.count() - t0), channels, u, group,
                            patches.segment(), sums.segment());
                }
            }
        } finally {
            transformed.release().run();
            patches.release().run();
            sums.release().run();
        }
    }

    /**
     * Tiles {@code [first, first + count)} for the output channels of {@code group}: their patches transformed
     * into {@code patches}, the 36 products with the group's transformed weights {@code u} into {@code sums},
     * and the sums transformed into the output.
     */
    private static void convolveBlock(Parallel parallel, Winograd4x4Tiles tiles, int first, int count, int channels,
            MemorySegment u, Winograd4x4Weights.Group group, MemorySegment patches, MemorySegment sums) {
        long patchBytes = (long) count * channels * Float.BYTES;
        long sumBytes = (long) count * group.count() * Float.BYTES;
        long weightBytes = u.byteSize() / POSITIONS;
        WinogradGrid.forEachTile(parallel, count, r -> tiles.transformPatch(first + r, channels, patches,
                (long) r * channels * Float.BYTES, patchBytes));
        // each product on one thread, the threads sharing out the positions (and, with many threads, parts of
        // the rows): a thread packs only its own rows of patches and reads only its positions' weights
        int rowParts = Math.max(1, (PRODUCTS_PER_THREAD * parallel.threads() + POSITIONS - 1) / POSITIONS);
        int partRows = ((count + rowParts - 1) / rowParts + GemmLayout.MR - 1) / GemmLayout.MR * GemmLayout.MR;
        parallel.forEach(POSITIONS * rowParts, task -> {
            int q = task / rowParts;
            int m0 = task % rowParts * partRows;
            int rows = Math.min(partRows, count - m0);
            if (rows <= 0) {
                return;
            }
            GemmKernel.Panels panels = new GemmKernel.Panels(u.asSlice(q * weightBytes, weightBytes), DType.F32,
                    channels, group.count(), group.panels());
            MemorySegment rowsOfPatches = patches.asSlice(q * patchBytes + (long) m0 * channels * Float.BYTES,
                    (long) rows * channels * Float.BYTES);
            MemorySegment rowsOfSums = sums.asSlice(q * sumBytes + (long) m0 * group.count() * Float.BYTES,
                    (long) rows * group.count() * Float.BYTES);
            GemmKernel.gemm(ONE_THREAD, new DenseRows(rowsOfPatches, channels), rows, panels, null, rowsOfSums);
        });
        WinogradGrid.forEachTile(parallel, count, r -> tiles.writeTile(first + r, group.first(), group.count(), sums,
                (long) r * group.count() * Float.BYTES, sumBytes));
    }
}
