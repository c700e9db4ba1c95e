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
 * <p>Classic three-level blocking: the work is cut into tiles of at most {@link GemmLayout#MC} rows by a run of
 * column panels, spread over the threads ({@link GemmLayout.Blocking#tiling}); within a tile, K is walked in even
 * blocks of at most {@code kc}, sized for the machine's L1 ({@link GemmLayout.Blocking}); each block of A is
 * packed into MR-row strips (k-major, so each step broadcasts MR consecutive floats) and the register-blocked
 * micro-kernel multiplies a strip by one packed B panel: {@link GemmLayout#MR} rows x
 * {@link GemmLayout#VECTORS_PER_ROW} vectors of columns, 24 accumulators (eight with 16 vector registers) that
 * start from the running sums (or the bias), stay in registers across the whole K block and are stored back
 * once: into C after the last K block, before it into a buffer where each strip's sums lie together. The B
 * block of a panel ({@code kc x NR} floats, widened from 16 bits where stored so) stays in L1 while every strip
 * of the tile passes over it. Where K takes more than one block, a tile packs its rows of A for all of K first,
 * reading each row from end to end, and finishes C one panel at a time
 * ({@link GemmLayout.Blocking#tiling}).
 */
final class GemmKernel {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    static final int NR = GemmLayout.NR;
    static final int MR = GemmLayout.MR;

    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final ThreadLocal<float[]> PACKED_A = ThreadLocal.withInitial(
            () -> new float[Math.max(GemmLayout.MC * GemmLayout.MAX_KC, GemmLayout.WHOLE_K_FLOATS)]);
    /** Where a tile cut by C's edge is computed, its valid part staged in and out. */
    private static final ThreadLocal<MemorySegment> TILE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate((long) MR * NR * Float.BYTES, 64));
    /** A row of NR zeros: where the sums start when there is no bias. */
    private static final MemorySegment ZEROS = Arena.global().allocate((long) NR * Float.BYTES, 64);
    /** Bytes of one strip's block of running sums, and of one of its rows. */
    private static final long SUMS_BLOCK_BYTES = (long) MR * NR * Float.BYTES;
    private static final long SUMS_ROW_BYTES = (long) NR * Float.BYTES;
    private static final ThreadLocal<RunningSums> RUNNING_SUMS = ThreadLocal.withInitial(RunningSums::new);
    /**
     * The K block of one panel at work, as floats (room for the longest K block of any blocking), from the first
     * cache line of the array that can be found ({@link ArrayAlignment}).
     */
    private static final ThreadLocal<float[]> PANEL_BLOCK =
            ThreadLocal.withInitial(() -> new float[GemmLayout.MAX_KC * NR + ArrayAlignment.SLACK_FLOATS]);

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
        gemm(parallel, a, m, b.gemmPanels(parallel), bias, c);
    }

    /**
     * Weight panels as {@link PackedMatrix} lays them out ({@code [count][in][NR]} of {@code storage}), wherever
     * they come from.
     */
    record Panels(MemorySegment data, DType storage, int in, int out, int count) {
        /**
         * Widens the {@code count} values from element {@code element} of the panels into {@code to[at, at + count)}:
         * copied for F32, widened from 16 bits otherwise.
         */
        void widen(long element, float[] to, int at, int count) {
            switch (storage) {
                case F32 -> MemorySegment.copy(data, ValueLayout.JAVA_FLOAT, element * Float.BYTES, to, at, count);
                case F16 -> HalfPrecision.halfToFloat(data, element * 2, to, at, count);
                case BF16 -> HalfPrecision.bfloat16ToFloat(data, element * 2, to, at, count);
                default -> throw new IllegalStateException("weights are never packed as " + storage);
            }
        }
    }

    /** As above with the weight given as its panels. */
    static void gemm(Parallel parallel, RowSource a, int m, Panels b, MemorySegment bias, MemorySegment c) {
        gemm(parallel, a, m, b, bias, c, GemmLayout.HOST);
    }

    /** As above, blocked as {@code blocking} says rather than for this machine's L1: the same results. */
    static void gemm(Parallel parallel, RowSource a, int m, Panels b, MemorySegment bias, MemorySegment c,
            GemmLayout.Blocking blocking) {
        if (m == 0 || b.out == 0) {
            return;
        }
        GemmLayout.Tiling tiling = blocking.tiling(parallel.threads(), m, b.in, b.count);
        int step = blocking.kBlock(b.in);
        GemmLayout.TileBody tile = tiling.wholeK()
                ? (m0, mc, p0, p1) -> panelByPanel(a, m0, mc, b, step, PACKED_A.get(), p0, p1, bias, c)
                : (m0, mc, p0, p1) -> blockByBlock(a, m0, mc, b, step, PACKED_A.get(), p0, p1, bias, c);
        tiling.forEach(parallel, tile);
    }

    /**
     * One tile, K block by K block ({@code step} long): each block of A is packed, then every panel of the tile
     * passes over it. Between K blocks the tile's sums wait in this thread's {@link RunningSums}, strip after
     * strip; only the last K block writes C.
     */
    private static void blockByBlock(RowSource a, int m0, int mc, Panels b, int step, float[] packedA, int p0, int p1,
            MemorySegment bias, MemorySegment c) {
        int k = b.in;
        int strips = (mc + MR - 1) / MR;
        MemorySegment sums = k > step ? RUNNING_SUMS.get().fit((long) (p1 - p0) * strips) : null;
        float[] panel = PANEL_BLOCK.get();
        int panelOffset = ArrayAlignment.lineStart(panel, 0);
        for (int k0 = 0; k0 == 0 || k0 < k; k0 += step) {
            int kc = Math.min(step, k - k0);
            if (kc > 0) {
                a.pack(m0, mc, k0, kc, packedA, 0, VectorStripWriter.INSTANCE);
            }
            for (int p = p0; p < p1; p++) {
                panelBlock(b, p, k0, kc, panel, panelOffset);
                multiplyStrips(packedA, 0, kc * MR, m0, mc, b, panel, panelOffset, p, k0, kc, bias, c,
                        sums, (long) (p - p0) * strips * SUMS_BLOCK_BYTES);
            }
        }
    }

    /**
     * One tile, panel by panel: its rows of A are packed for the whole of K, each strip's rows read from end to
     * end into one run of the strip's K columns (a K block of the strip is then a part of that run); then each
     * panel's part of C is finished over all K blocks ({@code step} long) before the next panel's begins, its
     * sums waiting between K blocks in this thread's {@link RunningSums}.
     */
    private static void panelByPanel(RowSource a, int m0, int mc, Panels b, int step, float[] packedA, int p0, int p1,
            MemorySegment bias, MemorySegment c) {
        int k = b.in;
        int strips = (mc + MR - 1) / MR;
        a.pack(m0, mc, 0, k, packedA, 0, VectorStripWriter.INSTANCE);
        MemorySegment sums = k > step ? RUNNING_SUMS.get().fit(strips) : null;
        float[] panel = PANEL_BLOCK.get();
        int panelOffset = ArrayAlignment.lineStart(panel, 0);
        for (int p = p0; p < p1; p++) {
            for (int k0 = 0; k0 < k; k0 += step) {
                int kc = Math.min(step, k - k0);
                panelBlock(b, p, k0, kc, panel, panelOffset);
                multiplyStrips(packedA, k0 * MR, k * MR, m0, mc, b, panel, panelOffset, p, k0, kc, bias, c, sums, 0);
            }
        }
    }

    /**
     * Adds the product of every strip of one packed K block of A (the first from {@code aOffset}, each
     * {@code stripFloats} after the one before) and the same K block of panel {@code p} (in {@code panel} from
     * {@code panelOffset}) to the running sums: they start from the bias (or zero) in the first K block and from
     * {@code sums} (at {@code sumsOffset}, one {@code MR x NR} block per strip) after it, and end in {@code sums}
     * or, in the last K block, in C.
     */
    private static void multiplyStrips(float[] packedA, int aOffset, int stripFloats, int m0, int mc, Panels b,
            float[] panel, int panelOffset, int p, int k0, int kc, MemorySegment bias, MemorySegment c,
            MemorySegment sums, long sumsOffset) {
        long rowBytes = (long) b.out * Float.BYTES;
        int col = p * NR;
        int cols = Math.min(NR, b.out - col);
        boolean first = k0 == 0;
        boolean last = k0 + kc >= b.in;
        MemorySegment start = first ? (bias == null ? ZEROS : bias) : sums;
        long biasOffset = bias == null ? 0 : (long) col * Float.BYTES;
        long startStride = first ? 0 : SUMS_ROW_BYTES;
        MemorySegment end = last ? c : sums;
        long endStride = last ? rowBytes : SUMS_ROW_BYTES;
        for (int i = 0; i < mc; i += MR) {
            int rows = Math.min(MR, mc - i);
            long block = sumsOffset + (long) (i / MR) * SUMS_BLOCK_BYTES;
            long from = first ? biasOffset : block;
            long to = last ? ((long) (m0 + i) * b.out + col) * Float.BYTES : block;
            int strip = aOffset + (i / MR) * stripFloats;
            if (rows == MR && cols == NR) {
                microKernel(packedA, strip, kc, panel, panelOffset, start, from, startStride, end, to, endStride);
            } else {
                // A tile cut by C's edge: its valid part is staged through a full-size tile, so that
                // every element of C sees the same operations whatever its place in the tiling.
                MemorySegment edgeTile = TILE.get();
                long edgeTileRow = NR * Float.BYTES;
                copyBlock(start, from, startStride, edgeTile, 0, edgeTileRow, rows, cols, true);
                microKernel(packedA, strip, kc, panel, panelOffset, edgeTile, 0, edgeTileRow, edgeTile, 0, edgeTileRow);
                copyBlock(edgeTile, 0, edgeTileRow, end, to, endStride, rows, cols, false);
            }
        }
    }

    /**
     * For a caller that packs its own operands: adds the product of {@code strips} packed strips of A
     * ({@code kc} long, from {@code aOffset}) and the {@code kc x NR} block of a panel at {@code panelOffset} of
     * {@code panel} into the {@code strips * MR x NR} block of {@code c} at {@code cOffset}, rows
     * {@code rowBytes} apart; with {@code first} the sums start from zero instead of from what the block holds.
     */
    static void multiplyStrips(float[] packedA, int aOffset, int strips, int kc, float[] panel, int panelOffset,
            boolean first, MemorySegment c, long cOffset, long rowBytes) {
        MemorySegment start = first ? ZEROS : c;
        long startStride = first ? 0 : rowBytes;
        for (int s = 0; s < strips; s++) {
            long at = cOffset + s * MR * rowBytes;
            microKernel(packedA, aOffset + s * kc * MR, kc, panel, panelOffset, start, first ? 0 : at, startStride,
                    c, at, rowBytes);
        }
    }

    /**
     * Puts the {@code kc x NR} block of panel {@code p} from row {@code k0} into {@code block}, this thread's
     * block buffer (reused by every strip of the tile), as floats from {@code at}, the buffer's first cache line
     * as the tile found it: copied for F32, widened from 16 bits otherwise.
     */
    private static void panelBlock(Panels b, int p, int k0, int kc, float[] block, int at) {
        b.widen(((long) p * b.in + k0) * NR, block, at, kc * NR);
    }

    /**
     * Multiplies one packed strip of A ({@code MR x kc}) by one packed panel of B ({@code kc x NR}, from
     * {@code bOffset}) in register accumulators: they start from the {@code MR x NR} block at {@code start}
     * (row stride {@code startStride} bytes, 0 to start every row from the same bias row) and end in the block at
     * {@code out}. Both operands are heap arrays walked by induction variables, whose bounds checks C2 hoists out
     * of the loop: nothing but loads, broadcasts and FMAs is left in it. (B always comes from the same kind of
     * memory: a kernel reading it from arrays and from segments alike compiled to a third of the speed.) The row
     * count is a constant, so only one of the two kernels is ever compiled in.
     */
    private static void microKernel(float[] a, int aOffset, int kc, float[] b, int bOffset, MemorySegment start,
            long startOffset, long startStride, MemorySegment out, long outOffset, long outStride) {
        if (MR == 6) {
            sixRows(a, aOffset, kc, b, bOffset, start, startOffset, startStride, out, outOffset, outStride);
        } else {
            fourRows(a, aOffset, kc, b, bOffset, start, startOffset, startStride, out, outOffset, outStride);
        }
    }

    /** {@link #microKernel} for six-row strips of four vectors: 24 accumulators, for 32 vector registers. */
    private static void sixRows(float[] a, int aOffset, int kc, float[] b, int bOffset, MemorySegment start,
            long startOffset, long startStride, MemorySegment out, long outOffset, long outStride) {
        long s0 = startOffset, s1 = s0 + startStride, s2 = s1 + startStride;
        long s3 = s2 + startStride, s4 = s3 + startStride, s5 = s4 + startStride;
        long v = VL * Float.BYTES, v2 = 2 * v, v3 = 3 * v;
        FloatVector c00 = load(start, s0), c01 = load(start, s0 + v);
        FloatVector c02 = load(start, s0 + v2), c03 = load(start, s0 + v3);
        FloatVector c10 = load(start, s1), c11 = load(start, s1 + v);
        FloatVector c12 = load(start, s1 + v2), c13 = load(start, s1 + v3);
        FloatVector c20 = load(start, s2), c21 = load(start, s2 + v);
        FloatVector c22 = load(start, s2 + v2), c23 = load(start, s2 + v3);
        FloatVector c30 = load(start, s3), c31 = load(start, s3 + v);
        FloatVector c32 = load(start, s3 + v2), c33 = load(start, s3 + v3);
        FloatVector c40 = load(start, s4), c41 = load(start, s4 + v);
        FloatVector c42 = load(start, s4 + v2), c43 = load(start, s4 + v3);
        FloatVector c50 = load(start, s5), c51 = load(start, s5 + v);
        FloatVector c52 = load(start, s5 + v2), c53 = load(start, s5 + v3);
        int bo = bOffset;
        int ao = aOffset;
        for (int kk = 0; kk < kc; kk++, bo += NR, ao += MR) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + VL);
            FloatVector b2 = FloatVector.fromArray(S, b, bo + 2 * VL);
            FloatVector b3 = FloatVector.fromArray(S, b, bo + 3 * VL);
            FloatVector a0 = FloatVector.broadcast(S, a[ao]);
            c00 = b0.fma(a0, c00);
            c01 = b1.fma(a0, c01);
            c02 = b2.fma(a0, c02);
            c03 = b3.fma(a0, c03);
            FloatVector a1 = FloatVector.broadcast(S, a[ao + 1]);
            c10 = b0.fma(a1, c10);
            c11 = b1.fma(a1, c11);
            c12 = b2.fma(a1, c12);
            c13 = b3.fma(a1, c13);
            FloatVector a2 = FloatVector.broadcast(S, a[ao + 2]);
            c20 = b0.fma(a2, c20);
            c21 = b1.fma(a2, c21);
            c22 = b2.fma(a2, c22);
            c23 = b3.fma(a2, c23);
            FloatVector a3 = FloatVector.broadcast(S, a[ao + 3]);
            c30 = b0.fma(a3, c30);
            c31 = b1.fma(a3, c31);
            c32 = b2.fma(a3, c32);
            c33 = b3.fma(a3, c33);
            FloatVector a4 = FloatVector.broadcast(S, a[ao + 4]);
            c40 = b0.fma(a4, c40);
            c41 = b1.fma(a4, c41);
            c42 = b2.fma(a4, c42);
            c43 = b3.fma(a4, c43);
            FloatVector a5 = FloatVector.broadcast(S, a[ao + 5]);
            c50 = b0.fma(a5, c50);
            c51 = b1.fma(a5, c51);
            c52 = b2.fma(a5, c52);
            c53 = b3.fma(a5, c53);
        }
        long o0 = outOffset, o1 = o0 + outStride, o2 = o1 + outStride;
        long o3 = o2 + outStride, o4 = o3 + outStride, o5 = o4 + outStride;
        c00.intoMemorySegment(out, o0, ORDER);
        c01.intoMemorySegment(out, o0 + v, ORDER);
        c02.intoMemorySegment(out, o0 + v2, ORDER);
        c03.intoMemorySegment(out, o0 + v3, ORDER);
        c10.intoMemorySegment(out, o1, ORDER);
        c11.intoMemorySegment(out, o1 + v, ORDER);
        c12.intoMemorySegment(out, o1 + v2, ORDER);
        c13.intoMemorySegment(out, o1 + v3, ORDER);
        c20.intoMemorySegment(out, o2, ORDER);
        c21.intoMemorySegment(out, o2 + v, ORDER);
        c22.intoMemorySegment(out, o2 + v2, ORDER);
        c23.intoMemorySegment(out, o2 + v3, ORDER);
        c30.intoMemorySegment(out, o3, ORDER);
        c31.intoMemorySegment(out, o3 + v, ORDER);
        c32.intoMemorySegment(out, o3 + v2, ORDER);
        c33.intoMemorySegment(out, o3 + v3, ORDER);
        c40.intoMemorySegment(out, o4, ORDER);
        c41.intoMemorySegment(out, o4 + v, ORDER);
        c42.intoMemorySegment(out, o4 + v2, ORDER);
        c43.intoMemorySegment(out, o4 + v3, ORDER);
        c50.intoMemorySegment(out, o5, ORDER);
        c51.intoMemorySegment(out, o5 + v, ORDER);
        c52.intoMemorySegment(out, o5 + v2, ORDER);
        c53.intoMemorySegment(out, o5 + v3, ORDER);
    }

    /** {@link #microKernel} for four-row strips: eight accumulators, for 16 vector registers. */
    private static void fourRows(float[] a, int aOffset, int kc, float[] b, int bOffset, MemorySegment start,
            long startOffset, long startStride, MemorySegment out, long outOffset, long outStride) {
        long s0 = startOffset, s1 = s0 + startStride, s2 = s1 + startStride, s3 = s2 + startStride;
        long v = VL * Float.BYTES;
        FloatVector c00 = load(start, s0), c01 = load(start, s0 + v), c10 = load(start, s1), c11 = load(start, s1 + v);
        FloatVector c20 = load(start, s2), c21 = load(start, s2 + v), c30 = load(start, s3), c31 = load(start, s3 + v);
        int bo = bOffset;
        int ao = aOffset;
        for (int kk = 0; kk < kc; kk++, bo += NR, ao += 4) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + VL);
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
        }
        long o0 = outOffset, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride;
        c00.intoMemorySegment(out, o0, ORDER);
        c01.intoMemorySegment(out, o0 + v, ORDER);
        c10.intoMemorySegment(out, o1, ORDER);
        c11.intoMemorySegment(out, o1 + v, ORDER);
        c20.intoMemorySegment(out, o2, ORDER);
        c21.intoMemorySegment(out, o2 + v, ORDER);
        c30.intoMemorySegment(out, o3, ORDER);
        c31.intoMemorySegment(out, o3 + v, ORDER);
    }

    private static FloatVector load(MemorySegment segment, long offset) {
        return FloatVector.fromMemorySegment(S, segment, offset, ORDER);
    }

    /**
     * Copies {@code rows x cols} floats between blocks with the given row strides in bytes; with
     * {@code clearRest} the rest of the {@code MR x NR} target is zeroed (the target is then a full tile).
     */
    private static void copyBlock(MemorySegment from, long fromOffset, long fromStride, MemorySegment to, long toOffset,
            long toStride, int rows, int cols, boolean clearRest) {
        if (clearRest) {
            to.asSlice(toOffset, (long) MR * NR * Float.BYTES).fill((byte) 0);
        }
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(from, fromOffset + r * fromStride, to, toOffset + r * toStride, (long) cols * Float.BYTES);
        }
    }

    /**
     * Where a tile's sums wait between K blocks, one {@code MR x NR} block per strip and panel, each block's
     * rows adjacent, so that the micro-kernel's successive calls read and write one stream. In C a strip's rows
     * lie a row of C apart (1.25 to 40 KiB in the U-Net), and where that is a multiple of 4 KiB, or close to one,
     * they share a few sets of L1. Products with several K blocks ran 2 - 7% faster so.
     */
    private static final class RunningSums {
        private MemorySegment blocks = MemorySegment.NULL;

        /** This thread's buffer, grown to hold at least {@code count} blocks. */
        MemorySegment fit(long count) {
            long bytes = count * SUMS_BLOCK_BYTES;
            if (blocks.byteSize() < bytes) {
                blocks = Arena.ofAuto().allocate(bytes, 64);
            }
            return blocks;
        }
    }
}
