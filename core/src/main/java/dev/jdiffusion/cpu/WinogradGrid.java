package dev.jdiffusion.cpu;

import java.util.function.IntConsumer;

/**
 * Where the square output tiles of a Winograd convolution lie ({@link Winograd4x4Tiles}, {@link Winograd2x2Tiles}):
 * {@code count} tiles of {@code tile x tile} output pixels, item by item, row by row; those at the bottom and
 * right edges may hang over the output.
 *
 * @param input the convolution's geometry: its output the size of its input, channels-last
 * @param tile output pixels down and across one tile
 * @param rows tiles down one item
 * @param columns tiles across one item
 */
record WinogradGrid(ConvPatches input, int tile, int rows, int columns, int count) {
    /** Tiles per task where the threads share out a block's tiles. */
    private static final int TILES_PER_TASK = 16;
    /** Each thread's room for the offsets of one patch (the largest, F(4x4)'s 6x6). */
    private static final ThreadLocal<long[]> OFFSETS =
            ThreadLocal.withInitial(() -> new long[Winograd4x4Weights.POSITIONS]);

    /** The tiles of a {@code batch}-item convolution over {@code input}. */
    static WinogradGrid of(ConvPatches input, int batch, int tile) {
        int rows = (input.outHeight() + tile - 1) / tile;
        int columns = (input.outWidth() + tile - 1) / tile;
        return new WinogradGrid(input, tile, rows, columns, Math.multiplyExact(batch, rows * columns));
    }

    /** Runs {@code tile.accept(r)} for every {@code r} in {@code [0, count)}, the threads sharing them out. */
    static void forEachTile(Parallel parallel, int count, IntConsumer tile) {
        parallel.forEach((count + TILES_PER_TASK - 1) / TILES_PER_TASK, task -> {
            for (int r = task * TILES_PER_TASK; r < Math.min(count, (task + 1) * TILES_PER_TASK); r++) {
                tile.accept(r);
            }
        });
    }

    /**
     * The byte offsets into the input of the {@code side x side} patch of tile {@code t}, from one pixel above and
     * left of the tile, row by row (negative where the patch reaches into the padding): this thread's array, valid
     * until its next call.
     */
    long[] patchOffsets(int t, int side) {
        long[] offsets = OFFSETS.get();
        int perItem = rows * columns;
        int b = t / perItem;
        int at = t - b * perItem;
        int y0 = at / columns * tile - 1;
        int x0 = at % columns * tile - 1;
        for (int i = 0; i < side; i++) {
            for (int j = 0; j < side; j++) {
                offsets[side * i + j] = input.pixelOffset(b, y0 + i, x0 + j);
            }
        }
        return offsets;
    }

    /** The index of tile {@code t}'s top left output pixel, counting the pixels of all items row by row. */
    long firstPixel(int t) {
        int perItem = rows * columns;
        int b = t / perItem;
        int at = t - b * perItem;
        return ((long) b * input.outHeight() + at / columns * tile) * input.outWidth() + at % columns * tile;
    }

    /** How many of tile {@code t}'s rows fall inside the output. */
    int rowsInside(int t) {
        return Math.min(tile, input.outHeight() - t % (rows * columns) / columns * tile);
    }

    /** How many of tile {@code t}'s columns fall inside the output. */
    int columnsInside(int t) {
        return Math.min(tile, input.outWidth() - t % columns * tile);
    }
}
