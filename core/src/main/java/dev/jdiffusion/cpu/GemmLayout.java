package dev.jdiffusion.cpu;

/**
 * The blocking of the matrix product, shared by the packing of weights ({@link PackedMatrix}), of the
 * left operand ({@link RowSource}) and by both kernel sets.
 */
final class GemmLayout {
    /**
     * Rows per micro-kernel call: six where there are 32 vector registers; four where there are 16 (AVX2), since
     * six rows there leave too few registers and the compiled loop keeps some of its sums on the stack (55% of
     * the FMA peak against 80-95% with four rows).
     */
    static final int MR = KernelChoice.SIXTEEN_VECTOR_REGISTERS ? 4 : 6;
    /**
     * Vectors per row of a micro-kernel call: four where there are 32 vector registers (24 accumulators, four
     * weight vectors and a broadcast), two where there are 16 (eight accumulators). With 24 FMAs per step of
     * K, the loop's integer work and broadcasts are spread over twice the FMAs of a two-vector row, which a
     * core that issues four instructions a cycle needs to keep both FMA units busy.
     */
    static final int VECTORS_PER_ROW = KernelChoice.SIXTEEN_VECTOR_REGISTERS ? 2 : 4;
    /** Columns per packed weight panel: a micro-kernel row's vectors (16 floats where there is no Vector API). */
    static final int NR = KernelChoice.VECTOR_MODULE_PRESENT
            ? VECTORS_PER_ROW * VectorKernels.preferredFloatLanes() : 16;
    /**
     * Longest K block on any machine: longer ones measured no faster, and long-K convolutions 3-5% slower, even
     * where they fit L1.
     */
    static final int MAX_KC = 256;
    /** The blocking for this machine's L1. */
    static final Blocking HOST = Blocking.forL1(L1DataCache.hostBytes());
    /** Longest K block on this machine. */
    static final int KC = HOST.kc();
    /**
     * Rows per tile: the packed A block (MC x KC floats, at most 384 KiB; 256 KiB with four-row strips) stays in
     * L2. Every K block of a weight panel (widened from 16 bits where stored so) serves all MC rows, so a tall
     * tile spreads that cost thin.
     */
    static final int MC = 64 * MR;
    /**
     * Most floats of A one tile packs when it packs the whole of K: 1 MiB, half of a 2 MiB L2, which leaves room
     * for the tile's panel of running sums and the K block of weights at work. (On a core with 1 MiB of L2, half
     * as many made products with 512 rows 5-7% slower: a whole-K block that spills from L2 feeds the
     * micro-kernel's slow stream of A from L3 well enough, while shorter tiles fetch every weight panel more
     * often.)
     */
    static final int WHOLE_K_FLOATS = 256 * 1024;
    /** Fewest rows worth a whole-K tile: fewer would read (and widen) every weight panel too often. */
    private static final int MIN_WHOLE_K_ROWS = 16 * MR;
    /** K blocks start on multiples of this many floats, so packing copies whole vectors. */
    private static final int K_ALIGNMENT = 16;

    private GemmLayout() {}

    /** {@link Blocking#kBlock} for this machine. */
    static int kBlock(int k) {
        return HOST.kBlock(k);
    }

    /** {@link Blocking#tiling} for this machine. */
    static Tiling tiling(int threads, int m, int k, int panels) {
        return HOST.tiling(threads, m, k, panels);
    }

    /**
     * The product's blocking for one size of L1. Only the speed depends on it: every element of C sees the same
     * operations in the same order whatever the blocking.
     *
     * @param kc the longest K block: the {@code kc x NR} floats of a weight panel stay in L1 while every strip
     *     of the tile passes over them, beside the strip of A and the tile of C at work, so they take at most two
     *     thirds of L1: with AVX-512's 64-float panels 128 rows (32 KiB) of a 48 KiB L1, 80 rows of a 32 KiB one
     *     (where a block of all of L1 had run the two-vector micro-kernel over cached data at 80% of the speed
     *     of one of two thirds)
     * @param wholeKFloats the most floats of A a tile packs for the whole of K ({@link #WHOLE_K_FLOATS}); 0 for
     *     tiles that always walk K block by block
     */
    record Blocking(int kc, int wholeKFloats) {
        static Blocking forL1(long l1DataBytes) {
            long weightBlockBytes = l1DataBytes * 2 / 3;
            int rows = (int) Math.min(MAX_KC, weightBlockBytes / ((long) NR * Float.BYTES));
            return new Blocking(Math.max(4 * K_ALIGNMENT, rows / K_ALIGNMENT * K_ALIGNMENT), WHOLE_K_FLOATS);
        }

        /**
         * The K block length for an inner dimension {@code k}: K cut into even blocks of at most {@link #kc}
         * (a short last block would pay a block's fixed costs for little work), rounded up to whole vectors;
         * the last block takes what is left.
         */
        int kBlock(int k) {
            int blocks = Math.max(1, (k + kc - 1) / kc);
            int even = (k + blocks - 1) / blocks;
            return Math.max(K_ALIGNMENT, (even + K_ALIGNMENT - 1) / K_ALIGNMENT * K_ALIGNMENT);
        }

        /**
         * The tiling of an {@code m x k} by {@code k x (panels * NR)} product. Where K takes more than one block,
         * a tile packs its rows of A for the whole of K, each strip's rows read from end to end, with as many
         * rows as {@link #wholeKFloats} allows. Packing one K block for all of a tile's rows at a time read each
         * row in pieces of {@code kc} floats, one row apart: out of L3, or memory, those pieces miss one after
         * another, and packing had taken 8 - 17% of a product with 320 to 640 columns. Where too few rows
         * would fit (the longest convolution patches), the tile packs and walks K block by block.
         */
        Tiling tiling(int threads, int m, int k, int panels) {
            if (k > kBlock(k)) {
                int rows = Math.min(MC, wholeKFloats / k / MR * MR);
                if (rows >= MIN_WHOLE_K_ROWS) {
                    return GemmLayout.tiling(threads, m, panels, rows, true);
                }
            }
            return GemmLayout.tiling(threads, m, panels, MC, false);
        }
    }

    /** One tile of a product: rows {@code [m0, m0 + mc)} against weight panels {@code [p0, p1)}. */
    interface TileBody {
        void run(int m0, int mc, int p0, int p1);
    }

    /**
     * How a {@code rows}-row product over {@code panels} weight panels is cut into tiles of rows by runs of
     * panels, and in which order a tile walks them.
     *
     * @param wholeK whether a tile packs its rows of A for the whole of K first and then finishes one panel
     *     at a time (the sums of its {@code rowsPerTile x NR} part of C stay in cache between K blocks), rather
     *     than packing one K block at a time and passing every panel over it (each K block then updates the sums
     *     of the tile's whole part of C, which come back from L2 while they fit there)
     */
    record Tiling(int rows, int panels, int rowsPerTile, int panelsPerBlock, boolean wholeK) {
        /** Runs every tile, spread over the threads. */
        void forEach(Parallel parallel, TileBody body) {
            int columnBlocks = (panels + panelsPerBlock - 1) / panelsPerBlock;
            int rowBlocks = (rows + rowsPerTile - 1) / rowsPerTile;
            parallel.forEach(rowBlocks * columnBlocks, tile -> {
                int m0 = tile / columnBlocks * rowsPerTile;
                int p0 = tile % columnBlocks * panelsPerBlock;
                body.run(m0, Math.min(rowsPerTile, rows - m0), p0, Math.min(panels, p0 + panelsPerBlock));
            });
        }
    }

    /**
     * Cuts an {@code m}-row product over {@code panels} weight panels into tiles of at most {@code maxRows}
     * rows (a multiple of {@link #MR}) by a run of panels. The row tiles come in a multiple of the thread
     * count, of equal height (whole strips), so that no thread is left with one tile more than the others
     * (4096 rows in 384-row tiles would be eleven: six for one thread, five for the other); where there are
     * few, the panels are split too, for enough tasks that uneven ones still balance. Rows that fit one tile
     * stay in one: every row tile reads (and widens) all of its panels, which for a short product costs more
     * than the multiplications, so there the threads share the panels instead of the rows.
     */
    private static Tiling tiling(int threads, int m, int panels, int maxRows, boolean wholeK) {
        int tiles = (m + maxRows - 1) / maxRows;
        if (tiles > 1) {
            tiles = (tiles + threads - 1) / threads * threads;
        }
        int rowsPerTile = Math.max(MR, ((m + tiles - 1) / tiles + MR - 1) / MR * MR);
        int rowBlocks = (m + rowsPerTile - 1) / rowsPerTile;
        int wantedColumnBlocks = Math.min(panels, columnBlocksFor(threads, rowBlocks));
        int panelsPerBlock = (panels + wantedColumnBlocks - 1) / wantedColumnBlocks;
        return new Tiling(m, panels, rowsPerTile, panelsPerBlock, wholeK);
    }

    /**
     * How many runs of panels to cut the columns into: every run packs its rows of A again, so none for one
     * thread; two per thread for a single row tile, so that a thread held up can be made up for; else enough
     * that there are four tasks per thread.
     */
    private static int columnBlocksFor(int threads, int rowBlocks) {
        if (threads == 1) {
            return 1;
        }
        return rowBlocks == 1 ? 2 * threads : Math.max(1, (4 * threads + rowBlocks - 1) / rowBlocks);
    }
}
