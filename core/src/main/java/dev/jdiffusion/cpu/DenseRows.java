package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;

/** A row-major float matrix with {@code columns} columns as a {@link RowSource}. */
record DenseRows(MemorySegment matrix, int columns) implements RowSource {
    private static final ThreadLocal<long[]> ROW_OFFSETS = ThreadLocal.withInitial(() -> new long[GemmLayout.MR]);

    @Override
    public void pack(int m0, int mc, int k0, int kc, float[] packed, int at, StripWriter writer) {
        int mr = GemmLayout.MR;
        long[] rowOffsets = ROW_OFFSETS.get();
        for (int strip = 0; strip * mr < mc; strip++) {
            for (int r = 0; r < mr; r++) {
                int row = strip * mr + r;
                rowOffsets[r] = row < mc ? ((long) (m0 + row) * columns + k0) * Float.BYTES : -1;
            }
            writer.writeRows(matrix, rowOffsets, kc, packed, at + strip * kc * mr);
        }
    }
}
