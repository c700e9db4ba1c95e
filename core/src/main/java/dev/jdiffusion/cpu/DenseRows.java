package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A row-major float matrix with {@code columns} columns as a {@link RowSource}. */
record DenseRows(MemorySegment matrix, int columns) implements RowSource {
    @Override
    public void pack(int m0, int mc, int k0, int kc, float[] packed) {
        int mr = GemmLayout.MR;
        for (int strip = 0; strip * mr < mc; strip++) {
            int base = strip * kc * mr;
            for (int r = 0; r < mr; r++) {
                int row = strip * mr + r;
                if (row < mc) {
                    long offset = ((long) (m0 + row) * columns + k0) * Float.BYTES;
                    for (int kk = 0; kk < kc; kk++) {
                        packed[base + kk * mr + r] = matrix.get(ValueLayout.JAVA_FLOAT_UNALIGNED, offset + (long) kk * Float.BYTES);
                    }
                } else {
                    for (int kk = 0; kk < kc; kk++) {
                        packed[base + kk * mr + r] = 0f;
                    }
                }
            }
        }
    }
}
