package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;

/**
 * A 3x3 convolution of stride 1 and padding 1 by Winograd's minimal filtering F(2x2, 3x3): each 2x2 tile of
 * the output comes from the 4x4 patch of input around it in 16 multiplications per pair of channels instead
 * of 36. This is for small images of many channels (the U-Net's 16x16 and 8x8 levels), where
 * {@link WinogradKernel}'s F(4x4, 3x3) has too few tiles to pay for transforming its weights ahead.
 *
 * <p>The tiles go in blocks: their patches are transformed ({@link Winograd2x2Tiles}) into 16 matrices of
 * {@code tiles x channels}; then each thread takes a run of the weight's panels and, K block by K block, packs
 * that block of all 16 matrices and, panel by panel, widens the nine taps of the direct weights once and makes
 * from them each position's block of transformed weights ({@link Winograd2x2Weights}) just before its product
 * adds into the sums; last, the sums are transformed into the output.
 */
final class Winograd2x2Kernel {
    private static final int POSITIONS = Winograd2x2Weights.POSITIONS;
    private static final int MR = GemmLayout.MR;
    private static final int NR = GemmLayout.NR;
    /**
     * Runs of panels per thread: each packs all the patches again. Two per thread, to balance a thread held up,
     * measured the same (1.01 - 1.04x) on two threads.
     */
    private static final int RUNS_PER_THREAD = 1;

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    private Winograd2x2Kernel() {}

    /**
     * {@code out = conv(input, weight) + bias} over the geometry of {@code input} (its output the size of its
     * input, channels-last, {@code batch} items), in blocks of at most {@code blockFloats} floats of transformed
     * patches and of sums (at least one strip of tiles), their room from {@code memory}.
     */
    static void convolve(Parallel parallel, CpuMemoryPool memory, ConvPatches input, int batch, PackedMatrix weight,
            MemorySegment bias, MemorySegment out, long blockFloats) {
        Winograd2x2Tiles tiles = Winograd2x2Tiles.of(input, batch, weight, bias, out);
        int width = Math.max(weight.channels, weight.panels * NR);
        long tileFloats = (long) POSITIONS * width;
        // whole strips of tiles per block, so that the sums of a block's last strip fit as well
        int perBlock = (int) Math.min((tiles.count() + MR - 1) / MR * MR,
                Math.max(MR, blockFloats / tileFloats / MR * MR));
        // the room the F(4x4) blocks take, where that is enough, so that the pool hands back the same buffers
        long roomBytes = Math.max(tileFloats * perBlock, WinogradKernel.BLOCK_FLOATS) * Float.BYTES;
        CpuMemoryPool.Allocation patches = memory.allocate(roomBytes);
        CpuMemoryPool.Allocation sums = memory.allocate(roomBytes);
        try {
            GemmKernel.Panels direct = weight.gemmPanels(parallel);
            for (int t0 = 0; t0 < tiles.count(); t0 += perBlock) {
                convolveBlock(parallel, tiles, t0, Math.min(perBlock, tiles.count() - t0), weight, direct,
                        patches.segment(), sums.segment());
            }
        } finally {
            patches.release().run();
            sums.release().run();
        }
    }

    /**
     * Tiles {@code [first, first + count)}: their patches transformed into {@code patches} ({@code [position]
     * [tile][channel]}), the 16 products into {@code sums} ({@code [position][panel][tile, in whole strips][NR]}),
     * and the sums transformed into the output. A panel's sums lie in one run, which the micro-kernel reads and
     * writes back once per K block in order: laid out as rows of C, a whole row of panels apart, each six-row
     * tile's sums came back from L3 line by line, and the convolutions took 1.2x the time.
     */
    private static void convolveBlock(Parallel parallel, Winograd2x2Tiles tiles, int first, int count,
            PackedMatrix weight, GemmKernel.Panels direct, MemorySegment patches, MemorySegment sums) {
        int channels = weight.channels;
        long patchBytes = (long) count * channels * Float.BYTES;
        int strips = (count + MR - 1) / MR;
        long panelBytes = (long) strips * MR * NR * Float.BYTES;
        long sumPositionBytes = weight.panels * panelBytes;
        WinogradGrid.forEachTile(parallel, count, r -> tiles.transformPatch(first + r, channels, patches,
                (long) r * channels * Float.BYTES, patchBytes));
        int runs = Math.min(weight.panels, RUNS_PER_THREAD * parallel.threads());
        int perRun = (weight.panels + runs - 1) / runs;
        DenseRows rowsOfPatches = new DenseRows(patches, channels); // position q's rows are [q count, (q + 1) count)
        parallel.forEach(runs, run -> multiplyRun(rowsOfPatches, count, direct, channels, run * perRun,
                Math.min(weight.panels, (run + 1) * perRun), sums, sumPositionBytes, panelBytes));
        WinogradGrid.forEachTile(parallel, count, r -> {
            for (int p = 0; p < weight.panels; p++) {
                tiles.writeTile(first + r, p * NR, Math.min(NR, weight.out - p * NR), sums,
                        p * panelBytes + (long) r * NR * Float.BYTES, sumPositionBytes);
            }
        });
    }

    /**
     * The 16 products of a block's {@code count} tiles for panels {@code [p0, p1)}, on this thread: K block by
     * K block, the patches of all positions packed, then for each panel and position its transformed weights
     * made and its product added into the sums (started in the first K block).
     */
    private static void multiplyRun(DenseRows patches, int count, GemmKernel.Panels direct, int channels, int p0,
            int p1, MemorySegment sums, long sumPositionBytes, long panelBytes) {
        int strips = (count + MR - 1) / MR;
        int step = GemmLayout.kBlock(channels);
        Buffers buffers = BUFFERS.get();
        buffers.fit(strips * MR * step, step);
        int base = ArrayAlignment.lineStart(buffers.weights, 0);
        for (int k0 = 0; k0 < channels; k0 += step) {
            int kc = Math.min(step, channels - k0);
            int positionFloats = strips * MR * kc;
            for (int q = 0; q < POSITIONS; q++) {
                patches.pack(q * count, count, k0, kc, buffers.packed, q * positionFloats, VectorStripWriter.INSTANCE);
            }
            for (int p = p0; p < p1; p++) {
                Winograd2x2Weights.widenTaps(direct, channels, p, k0, kc, buffers.weights, base);
                for (int q = 0; q < POSITIONS; q++) {
                    int weights = Winograd2x2Weights.position(q, buffers.weights, kc, base);
                    GemmKernel.multiplyStrips(buffers.packed, q * positionFloats, strips, kc, buffers.weights,
                            weights, k0 == 0, sums, q * sumPositionBytes + p * panelBytes, NR * Float.BYTES);
                }
            }
        }
    }

    /** A thread's room for one K block, grown as needed. */
    private static final class Buffers {
        /** The patches of all 16 positions, packed: {@code [position][strip][kc][MR]}. */
        float[] packed = new float[0];
        /**
         * One panel's nine taps, widened, and a block for a position's transformed weights made from them, from the
         * array's first cache line ({@link ArrayAlignment}).
         */
        float[] weights = new float[0];

        void fit(int positionFloats, int kc) {
            if (packed.length < POSITIONS * positionFloats) {
                packed = new float[POSITIONS * positionFloats];
            }
            if (weights.length < Winograd2x2Weights.blockFloats(kc) + ArrayAlignment.SLACK_FLOATS) {
                weights = new float[Winograd2x2Weights.blockFloats(kc) + ArrayAlignment.SLACK_FLOATS];
            }
        }
    }
}
