package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code C[m, n] = A[m, k] B^T + bias} with B pre-packed ({@link PackedMatrix}).
 *
 * <p>Classic three-level blocking: the work is cut into tiles of {@link #MC} rows by a run of column
 * panels, spread over the threads; within a tile, K is walked in blocks of {@link #KC}; the block of A
 * is packed into MR-row strips (k-major, so each step broadcasts MR consecutive floats) and the
 * register-blocked micro-kernel multiplies a strip by one packed B panel: {@link #MR} rows x two
 * vectors of columns, twelve accumulators that stay in registers across the whole K block. The B
 * block of a panel (KC x NR floats) stays in L1 while every strip of the tile passes over it.
 */
final class GemmKernel {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    /** Columns per packed panel: two vectors. */
    static final int NR = 2 * VL;
    /** Rows per micro-kernel call. */
    static final int MR = 6;
    /** K block: KC x NR floats of B (32 KiB with AVX-512) stay in L1. */
    static final int KC = 256;
    /** Rows per tile: the packed A block (MC x KC floats) stays in L2. */
    static final int MC = 16 * MR;

    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final ThreadLocal<float[]> PACKED_A = ThreadLocal.withInitial(() -> new float[MC * KC]);

    private GemmKernel() {}

    /**
     * @param a {@code m x b.in} row-major floats
     * @param c {@code m x b.out} row-major floats, fully overwritten
     * @param bias {@code b.out} floats or null
     */
    static void gemm(Parallel parallel, MemorySegment a, int m, PackedMatrix b, MemorySegment bias, MemorySegment c) {
        if (m == 0 || b.out == 0) {
            return;
        }
        int rowBlocks = (m + MC - 1) / MC;
        // Enough tiles for every thread to get several, so uneven tiles still balance.
        int wantedColumnBlocks = Math.max(1, (4 * parallel.threads() + rowBlocks - 1) / rowBlocks);
        int panelsPerBlock = (b.panels + Math.min(b.panels, wantedColumnBlocks) - 1) / Math.min(b.panels, wantedColumnBlocks);
        int columnBlocks = (b.panels + panelsPerBlock - 1) / panelsPerBlock;
        parallel.forEach(rowBlocks * columnBlocks, tile -> {
            int rowBlock = tile / columnBlocks;
            int columnBlock = tile % columnBlocks;
            int m0 = rowBlock * MC;
            int p0 = columnBlock * panelsPerBlock;
            tile(a, m0, Math.min(MC, m - m0), b, p0, Math.min(b.panels, p0 + panelsPerBlock), bias, c);
        });
    }

    private static void tile(MemorySegment a, int m0, int mc, PackedMatrix b, int p0, int p1, MemorySegment bias,
            MemorySegment c) {
        float[] packedA = PACKED_A.get();
        int k = b.in;
        if (k == 0) {
            // An empty inner dimension: the product is the bias (or zero).
            for (int p = p0; p < p1; p++) {
                for (int i = 0; i < mc; i += MR) {
                    microKernel(packedA, 0, 0, b.data, 0, c, b.out, m0 + i, Math.min(MR, mc - i), p * NR,
                            Math.min(NR, b.out - p * NR), bias, true);
                }
            }
            return;
        }
        for (int k0 = 0; k0 < k; k0 += KC) {
            int kc = Math.min(KC, k - k0);
            packA(a, k, m0, mc, k0, kc, packedA);
            boolean first = k0 == 0;
            for (int p = p0; p < p1; p++) {
                long bOffset = ((long) p * k + k0) * NR * Float.BYTES;
                int col = p * NR;
                int cols = Math.min(NR, b.out - col);
                for (int i = 0; i < mc; i += MR) {
                    microKernel(packedA, (i / MR) * kc * MR, kc, b.data, bOffset, c, b.out, m0 + i,
                            Math.min(MR, mc - i), col, cols, bias, first);
                }
            }
        }
    }

    /** Packs rows {@code [m0, m0+mc)} x columns {@code [k0, k0+kc)} of A into MR-row strips, zero-padded. */
    private static void packA(MemorySegment a, int lda, int m0, int mc, int k0, int kc, float[] packed) {
        for (int strip = 0; strip * MR < mc; strip++) {
            int base = strip * kc * MR;
            for (int r = 0; r < MR; r++) {
                int row = strip * MR + r;
                if (row < mc) {
                    long offset = ((long) (m0 + row) * lda + k0) * Float.BYTES;
                    for (int kk = 0; kk < kc; kk++) {
                        packed[base + kk * MR + r] = a.get(ValueLayout.JAVA_FLOAT_UNALIGNED, offset + (long) kk * Float.BYTES);
                    }
                } else {
                    for (int kk = 0; kk < kc; kk++) {
                        packed[base + kk * MR + r] = 0f;
                    }
                }
            }
        }
    }

    private static void microKernel(float[] a, int aOffset, int kc, MemorySegment b, long bOffset, MemorySegment c,
            int ldc, int row, int rows, int col, int cols, MemorySegment bias, boolean first) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        VectorMask<Float> mask0 = S.indexInRange(0, cols);
        VectorMask<Float> mask1 = S.indexInRange(VL, cols);
        if (first) {
            FloatVector init0 = FloatVector.zero(S);
            FloatVector init1 = init0;
            if (bias != null) {
                init0 = FloatVector.fromMemorySegment(S, bias, (long) col * Float.BYTES, ORDER, mask0);
                init1 = FloatVector.fromMemorySegment(S, bias, (long) (col + VL) * Float.BYTES, ORDER, mask1);
            }
            c00 = c10 = c20 = c30 = c40 = c50 = init0;
            c01 = c11 = c21 = c31 = c41 = c51 = init1;
        } else {
            c00 = load(c, ldc, row, rows, 0, col, mask0);
            c01 = load(c, ldc, row, rows, 0, col + VL, mask1);
            c10 = load(c, ldc, row, rows, 1, col, mask0);
            c11 = load(c, ldc, row, rows, 1, col + VL, mask1);
            c20 = load(c, ldc, row, rows, 2, col, mask0);
            c21 = load(c, ldc, row, rows, 2, col + VL, mask1);
            c30 = load(c, ldc, row, rows, 3, col, mask0);
            c31 = load(c, ldc, row, rows, 3, col + VL, mask1);
            c40 = load(c, ldc, row, rows, 4, col, mask0);
            c41 = load(c, ldc, row, rows, 4, col + VL, mask1);
            c50 = load(c, ldc, row, rows, 5, col, mask0);
            c51 = load(c, ldc, row, rows, 5, col + VL, mask1);
        }
        long bo = bOffset;
        int ao = aOffset;
        for (int kk = 0; kk < kc; kk++, bo += NR * Float.BYTES, ao += MR) {
            FloatVector b0 = FloatVector.fromMemorySegment(S, b, bo, ORDER);
            FloatVector b1 = FloatVector.fromMemorySegment(S, b, bo + VL * Float.BYTES, ORDER);
            FloatVector a0 = FloatVector.broadcast(S, a[ao]);
            c00 = b0.fma(a0, c00);
            c01 = b1.fma(a0, c01);
            FloatVector a1 = FloatVector.broadcast(S, a[ao + 1]);
            c10 = b0.fma(a1, c10);
            c11 = b1.fma(a1, c11);
            FloatVector a2 = FloatVector.broadcast(S, a[ao + 2]);
            c20 = b0.fma(a2, c20);
            c21 = b1.fma(a2, c21);
            FloatVector a3 = FloatVector.broadcast(S, a[ao + 3]);
            c30 = b0.fma(a3, c30);
            c31 = b1.fma(a3, c31);
            FloatVector a4 = FloatVector.broadcast(S, a[ao + 4]);
            c40 = b0.fma(a4, c40);
            c41 = b1.fma(a4, c41);
            FloatVector a5 = FloatVector.broadcast(S, a[ao + 5]);
            c50 = b0.fma(a5, c50);
            c51 = b1.fma(a5, c51);
        }
        store(c, ldc, row, rows, 0, col, cols, c00, c01, mask0, mask1);
        store(c, ldc, row, rows, 1, col, cols, c10, c11, mask0, mask1);
        store(c, ldc, row, rows, 2, col, cols, c20, c21, mask0, mask1);
        store(c, ldc, row, rows, 3, col, cols, c30, c31, mask0, mask1);
        store(c, ldc, row, rows, 4, col, cols, c40, c41, mask0, mask1);
        store(c, ldc, row, rows, 5, col, cols, c50, c51, mask0, mask1);
    }

    private static FloatVector load(MemorySegment c, int ldc, int row, int rows, int r, int col, VectorMask<Float> mask) {
        if (r >= rows) {
            return FloatVector.zero(S);
        }
        return FloatVector.fromMemorySegment(S, c, ((long) (row + r) * ldc + col) * Float.BYTES, ORDER, mask);
    }

    private static void store(MemorySegment c, int ldc, int row, int rows, int r, int col, int cols, FloatVector v0,
            FloatVector v1, VectorMask<Float> mask0, VectorMask<Float> mask1) {
        if (r >= rows) {
            return;
        }
        long offset = ((long) (row + r) * ldc + col) * Float.BYTES;
        if (cols == NR) {
            v0.intoMemorySegment(c, offset, ORDER);
            v1.intoMemorySegment(c, offset + VL * Float.BYTES, ORDER);
        } else {
            v0.intoMemorySegment(c, offset, ORDER, mask0);
            v1.intoMemorySegment(c, offset + VL * Float.BYTES, ORDER, mask1);
        }
    }
}
