package dev.jdiffusion.cpu;

import dev.jdiffusion.weights.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code C[m, n] = A[m, k] B^T + bias} with B in packed panels ({@link PackedMatrix}).
 *
 * <p>Classic three-level blocking: the work is cut into tiles of {@link GemmLayout#MC} rows by a run of column
 * panels, spread over the threads; within a tile, K is walked in blocks of {@link GemmLayout#KC}; the block of A
 * is packed into MR-row strips (k-major, so each step broadcasts MR consecutive floats) and the
 * register-blocked micro-kernel multiplies a strip by one packed B panel: {@link GemmLayout#MR} rows x two
 * vectors of columns, twelve accumulators that stay in registers across the whole K block. The B
 * block of a panel (KC x NR floats) stays in L1 while every strip of the tile passes over it.
 */
final class GemmKernel {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    static final int NR = GemmLayout.NR;
    static final int MR = GemmLayout.MR;
    static final int KC = GemmLayout.KC;
    static final int MC = GemmLayout.MC;

    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final ThreadLocal<float[]> PACKED_A = ThreadLocal.withInitial(() -> new float[MC * KC]);
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);
    /** A K block of one panel widened from 16 bits; off-heap, so the kernel reads it as it reads packed memory. */
    private static final ThreadLocal<MemorySegment> WIDENED =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate((long) KC * NR * Float.BYTES, 64));

    private GemmKernel() {}

    /**
     * @param a {@code m x b.in} row-major floats
     * @param c {@code m x b.out} row-major floats, fully overwritten
     * @param bias {@code b.out} floats or null
     */
    static void gemm(Parallel parallel, MemorySegment a, int m, PackedMatrix b, MemorySegment bias, MemorySegment c) {
        gemm(parallel, new DenseRows(a, b.in), m, b, bias, c);
    }

    /** As above with the rows of A produced by {@code a} (a matrix, or convolution patches). */
    static void gemm(Parallel parallel, RowSource a, int m, PackedMatrix b, MemorySegment bias, MemorySegment c) {
        if (m == 0 || b.out == 0) {
            return;
        }
        MemorySegment panels = b.panels(parallel);
        GemmLayout.forEachTile(parallel, m, b.panels, (m0, mc, p0, p1) -> tile(a, m0, mc, b, panels, p0, p1, bias, c));
    }

    private static void tile(RowSource a, int m0, int mc, PackedMatrix b, MemorySegment panels, int p0, int p1,
            MemorySegment bias, MemorySegment c) {
        float[] packedA = PACKED_A.get();
        float[] tile = TILE.get();
        int k = b.in;
        if (k == 0) {
            // An empty inner dimension: the product is the bias (or zero).
            for (int p = p0; p < p1; p++) {
                for (int i = 0; i < mc; i += MR) {
                    microKernel(packedA, 0, 0, panels, tile);
                    addTile(tile, c, b.out, m0 + i, Math.min(MR, mc - i), p * NR, Math.min(NR, b.out - p * NR), bias, true);
                }
            }
            return;
        }
        for (int k0 = 0; k0 < k; k0 += KC) {
            int kc = Math.min(KC, k - k0);
            a.pack(m0, mc, k0, kc, packedA);
            boolean first = k0 == 0;
            for (int p = p0; p < p1; p++) {
                // A slice per panel: the kernel then walks B from offset 0, which lets C2 drop its bounds checks.
                MemorySegment panel = panelBlock(b, panels, p, k0, kc);
                int col = p * NR;
                int cols = Math.min(NR, b.out - col);
                for (int i = 0; i < mc; i += MR) {
                    microKernel(packedA, (i / MR) * kc * MR, kc, panel, tile);
                    addTile(tile, c, b.out, m0 + i, Math.min(MR, mc - i), col, cols, bias, first);
                }
            }
        }
    }

    /**
     * The {@code kc x NR} block of panel {@code p} from row {@code k0}: the packed memory itself for F32,
     * else widened from 16 bits into this thread's block buffer (reused by every strip of the tile).
     */
    private static MemorySegment panelBlock(PackedMatrix b, MemorySegment panels, int p, int k0, int kc) {
        long count = (long) kc * NR;
        long first = ((long) p * b.in + k0) * NR;
        if (b.storage == DType.F32) {
            return panels.asSlice(first * Float.BYTES, count * Float.BYTES);
        }
        MemorySegment source = panels.asSlice(first * 2, count * 2);
        MemorySegment widened = WIDENED.get().asSlice(0, count * Float.BYTES);
        if (b.storage == DType.F16) {
            HalfPrecision.halfToFloat(source, widened, count);
        } else {
            HalfPrecision.bfloat16ToFloat(source, widened, count);
        }
        return widened;
    }

    /**
     * Multiplies one packed strip of A ({@code MR x kc}) by one packed panel of B ({@code kc x NR}) in
     * twelve register accumulators and leaves the product in {@code tile} ({@code MR x NR}, row-major).
     * The method holds nothing but the loop, so C2 keeps every vector in a register; adding the tile
     * into C is a separate step. {@code b} is the panel's own slice, walked from offset 0.
     */
    private static void microKernel(float[] a, int aOffset, int kc, MemorySegment b, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c10 = FloatVector.zero(S);
        FloatVector c11 = FloatVector.zero(S), c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S), c40 = FloatVector.zero(S);
        FloatVector c41 = FloatVector.zero(S), c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        long bo = 0;
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
        c00.intoArray(tile, 0);
        c01.intoArray(tile, VL);
        c10.intoArray(tile, NR);
        c11.intoArray(tile, NR + VL);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + VL);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + VL);
        c40.intoArray(tile, 4 * NR);
        c41.intoArray(tile, 4 * NR + VL);
        c50.intoArray(tile, 5 * NR);
        c51.intoArray(tile, 5 * NR + VL);
    }

    /**
     * Adds a computed tile into C: onto the bias (or nothing) in the first K block, onto C's running
     * sums after. Tiles cut by C's edge go element by element (the last rows or columns only).
     */
    private static void addTile(float[] tile, MemorySegment c, int ldc, int row, int rows, int col, int cols,
            MemorySegment bias, boolean first) {
        if (cols == NR) {
            FloatVector bias0 = FloatVector.zero(S);
            FloatVector bias1 = FloatVector.zero(S);
            if (first && bias != null) {
                bias0 = FloatVector.fromMemorySegment(S, bias, (long) col * Float.BYTES, ORDER);
                bias1 = FloatVector.fromMemorySegment(S, bias, (long) (col + VL) * Float.BYTES, ORDER);
            }
            for (int r = 0; r < rows; r++) {
                long o0 = ((long) (row + r) * ldc + col) * Float.BYTES;
                long o1 = o0 + VL * Float.BYTES;
                FloatVector v0 = FloatVector.fromArray(S, tile, r * NR);
                FloatVector v1 = FloatVector.fromArray(S, tile, r * NR + VL);
                if (first) {
                    v0 = v0.add(bias0);
                    v1 = v1.add(bias1);
                } else {
                    v0 = v0.add(FloatVector.fromMemorySegment(S, c, o0, ORDER));
                    v1 = v1.add(FloatVector.fromMemorySegment(S, c, o1, ORDER));
                }
                v0.intoMemorySegment(c, o0, ORDER);
                v1.intoMemorySegment(c, o1, ORDER);
            }
            return;
        }
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                long at = ((long) (row + r) * ldc + col + j) * Float.BYTES;
                float base;
                if (first) {
                    base = bias == null ? 0f : bias.get(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) (col + j) * Float.BYTES);
                } else {
                    base = c.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at);
                }
                c.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at, base + tile[r * NR + j]);
            }
        }
    }
}
