package dev.jdiffusion.cpu;

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
    /** The tiles of a {@code batch}-item convolution over {@code input}. */
    static WinogradGrid of(ConvPatches input, int batch, int tile) {
        int rows = (input.outHeight() + tile - 1) / tile;
        int columns = (input.outWidth() + tile - 1) / tile;
        return new WinogradGrid(input, tile, rows, columns, Math.multiplyExact(batch, rows * columns));
    }

    /**
     * The byte offsets into the input of the {@code side x side} patch of tile {@code t}, from one pixel above and
     * left of the tile, row by row into {@code offsets} (negative where the patch reaches into the padding).
     */
    void patchOffsets(int t, int side, long[] offsets) {
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
