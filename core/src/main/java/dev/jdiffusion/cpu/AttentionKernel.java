package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Multi-head attention computed flash-style: for each block of queries, the keys are visited in
 * blocks with an online softmax (running maximum and sum; earlier partial results rescaled when the
 * maximum grows), so memory is O(block x head width) whatever the sequence length; the full score
 * matrix is never formed. One task per (batch, head, query block).
 *
 * <p>Both products run on register-blocked micro-kernels ({@link #MR} x {@link #NR} tiles, like the
 * GEMM's): the scores {@code S = Q K^T} with the queries as rows, and the output as its transpose,
 * {@code O^T += V^T P^T}, so that narrow heads (40 wide in SD's first level) still fill whole tiles
 * (the query block is the wide side) and the value rows pack contiguously.
 */
final class AttentionKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final int MR = 6;
    private static final int NR = 2 * VL;
    /** Queries per task: 16 strips of MR rows, a whole number of NR-wide panels. */
    private static final int QUERY_BLOCK = 16 * MR;
    /** Keys per block: a whole number of NR-wide panels. */
    private static final int KEY_BLOCK = 4 * NR;

    /** Per-thread buffers, grown to the largest head width seen. */
    private static final class Scratch {
        int headDim = -1;
        int paddedDim;
        float[] queries; // A strips: [QUERY_BLOCK / MR][headDim][MR], pre-scaled
        float[] keys; // B panels: [KEY_BLOCK / NR][headDim][NR]
        float[] scores = new float[QUERY_BLOCK * KEY_BLOCK]; // [query][key]
        float[] probabilities = new float[KEY_BLOCK * QUERY_BLOCK]; // B panels of P^T: [QUERY_BLOCK / NR][key][NR]
        float[] values; // A strips of V^T: [paddedDim / MR][key][MR]
        float[] output; // O^T: [paddedDim][QUERY_BLOCK]
        float[] rowMax = new float[QUERY_BLOCK];
        float[] rowSum = new float[QUERY_BLOCK];
        float[] rescale = new float[QUERY_BLOCK];
        float[] tile = new float[MR * NR];

        void fit(int dim) {
            if (dim != headDim) {
                headDim = dim;
                paddedDim = (dim + MR - 1) / MR * MR;
                queries = new float[QUERY_BLOCK * dim];
                keys = new float[KEY_BLOCK * dim];
                values = new float[paddedDim * KEY_BLOCK];
                output = new float[paddedDim * QUERY_BLOCK];
            }
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private AttentionKernel() {}

    /**
     * @param q {@code [batch, queries, heads * headDim]}
     * @param k {@code [batch, keys, heads * headDim]}
     * @param v {@code [batch, keys, heads * headDim]}
     * @param out {@code [batch, queries, heads * headDim]}
     * @param causal query {@code i} sees keys {@code 0..i} only (queries == keys)
     */
    static void attention(Parallel parallel, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
            int batch, int queries, int keys, int heads, int headDim, float scale, boolean causal) {
        int queryBlocks = (queries + QUERY_BLOCK - 1) / QUERY_BLOCK;
        parallel.forEach(batch * heads * queryBlocks, task -> {
            int queryBlock = task % queryBlocks;
            int head = (task / queryBlocks) % heads;
            int b = task / (queryBlocks * heads);
            block(q, k, v, out, b, head, queryBlock * QUERY_BLOCK, queries, keys, heads, headDim, scale, causal);
        });
    }

    private static void block(MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out, int b, int head,
            int q0, int queries, int keys, int heads, int headDim, float scale, boolean causal) {
        Scratch s = SCRATCH.get();
        s.fit(headDim);
        int width = heads * headDim;
        long headOffset = (long) head * headDim;
        int nq = Math.min(QUERY_BLOCK, queries - q0);
        packQueries(q, ((long) b * queries + q0) * width + headOffset, width, nq, headDim, scale, s.queries);
        Arrays.fill(s.output, 0f);
        Arrays.fill(s.rowMax, Float.NEGATIVE_INFINITY);
        Arrays.fill(s.rowSum, 0f);

        int keyLimit = causal ? Math.min(keys, q0 + nq) : keys;
        for (int k0 = 0; k0 < keyLimit; k0 += KEY_BLOCK) {
            int nk = Math.min(KEY_BLOCK, keyLimit - k0);
            long firstKey = ((long) b * keys + k0) * width + headOffset;
            packKeys(k, firstKey, width, nk, headDim, s.keys);
            int keyPanels = (nk + NR - 1) / NR;
            for (int strip = 0; strip * MR < nq; strip++) {
                for (int panel = 0; panel < keyPanels; panel++) {
                    multiply(s.queries, strip * headDim * MR, s.keys, panel * headDim * NR, headDim, s.tile);
                    storeTile(s.tile, s.scores, strip * MR * KEY_BLOCK + panel * NR, KEY_BLOCK);
                }
            }
            softmaxBlock(s, nq, nk, causal ? q0 - k0 : Integer.MAX_VALUE);
            packValues(v, firstKey, width, nk, headDim, s.paddedDim, s.values);
            rescaleOutput(s.output, s.paddedDim, s.rescale);
            for (int strip = 0; strip * MR < s.paddedDim; strip++) {
                for (int panel = 0; panel * NR < nq; panel++) {
                    multiply(s.values, strip * KEY_BLOCK * MR, s.probabilities, panel * KEY_BLOCK * NR, nk, s.tile);
                    addTile(s.tile, s.output, strip * MR * QUERY_BLOCK + panel * NR, QUERY_BLOCK);
                }
            }
        }
        writeOutput(s, out, ((long) b * queries + q0) * width + headOffset, width, nq, headDim);
    }

    /** Queries as A strips {@code [strip][d][MR]}, times the scale; rows past the block are zero. */
    private static void packQueries(MemorySegment q, long first, int width, int nq, int headDim, float scale,
            float[] packed) {
        for (int row = 0; row < QUERY_BLOCK; row++) {
            int base = (row / MR) * headDim * MR + row % MR;
            if (row < nq) {
                long at = first + (long) row * width;
                for (int d = 0; d < headDim; d++) {
                    packed[base + d * MR] = q.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at + d) * scale;
                }
            } else {
                for (int d = 0; d < headDim; d++) {
                    packed[base + d * MR] = 0f;
                }
            }
        }
    }

    /** Keys as B panels {@code [panel][d][NR]} (the transpose of K); keys past the block are zero. */
    private static void packKeys(MemorySegment k, long first, int width, int nk, int headDim, float[] packed) {
        for (int key = 0; key < KEY_BLOCK; key++) {
            int base = (key / NR) * headDim * NR + key % NR;
            if (key < nk) {
                long at = first + (long) key * width;
                for (int d = 0; d < headDim; d++) {
                    packed[base + d * NR] = k.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at + d);
                }
            } else {
                for (int d = 0; d < headDim; d++) {
                    packed[base + d * NR] = 0f;
                }
            }
        }
    }

    /** Values as A strips of V^T {@code [strip of MR dims][key][MR]}: each key's MR dims are contiguous. */
    private static void packValues(MemorySegment v, long first, int width, int nk, int headDim, int paddedDim,
            float[] packed) {
        for (int strip = 0; strip * MR < paddedDim; strip++) {
            int d0 = strip * MR;
            int base = strip * KEY_BLOCK * MR;
            for (int key = 0; key < nk; key++) {
                long at = first + (long) key * width + d0;
                int o = base + key * MR;
                for (int r = 0; r < MR; r++) {
                    packed[o + r] = d0 + r < headDim ? v.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at + r) : 0f;
                }
            }
        }
    }

    /**
     * The online softmax over one block of scores: per query, masks keys past the block (and, causal,
     * keys after the query: key {@code j} is visible to row {@code i} when {@code j <= i + visibleOffset}),
     * raises the running maximum, records the factor earlier sums and outputs must be rescaled by, and
     * writes {@code exp(s - max)} into the P^T panels.
     */
    private static void softmaxBlock(Scratch s, int nq, int nk, int visibleOffset) {
        for (int i = 0; i < QUERY_BLOCK; i++) {
            int panelBase = (i / NR) * KEY_BLOCK * NR + i % NR;
            int visible = i < nq ? (int) Math.min(nk, Math.max(0L, (long) i + visibleOffset + 1)) : 0;
            if (visible == 0) {
                s.rescale[i] = 1f;
                for (int j = 0; j < KEY_BLOCK; j++) {
                    s.probabilities[panelBase + j * NR] = 0f;
                }
                continue;
            }
            int row = i * KEY_BLOCK;
            FloatVector max = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (int j = 0; j < visible; j += VL) {
                VectorMask<Float> m = S.indexInRange(j, visible);
                max = max.lanewise(VectorOperators.MAX, FloatVector.fromArray(S, s.scores, row + j, m), m);
            }
            float oldMax = s.rowMax[i];
            float newMax = Math.max(oldMax, max.reduceLanes(VectorOperators.MAX));
            s.rescale[i] = oldMax == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(oldMax - newMax);
            s.rowMax[i] = newMax;
            FloatVector sum = FloatVector.zero(S);
            for (int j = 0; j < visible; j += VL) {
                VectorMask<Float> m = S.indexInRange(j, visible);
                FloatVector p = VectorMath.exp(FloatVector.fromArray(S, s.scores, row + j, m).sub(newMax));
                sum = sum.add(p, m);
                p.intoArray(s.scores, row + j, m);
            }
            s.rowSum[i] = s.rowSum[i] * s.rescale[i] + VectorMath.sum(sum);
            for (int j = 0; j < visible; j++) {
                s.probabilities[panelBase + j * NR] = s.scores[row + j];
            }
            for (int j = visible; j < KEY_BLOCK; j++) {
                s.probabilities[panelBase + j * NR] = 0f;
            }
        }
    }

    /** Multiplies every query's column of O^T by its rescale factor. */
    private static void rescaleOutput(float[] output, int paddedDim, float[] rescale) {
        for (int j = 0; j < QUERY_BLOCK; j += VL) {
            FloatVector factor = FloatVector.fromArray(S, rescale, j);
            for (int d = 0; d < paddedDim; d++) {
                int at = d * QUERY_BLOCK + j;
                FloatVector.fromArray(S, output, at).mul(factor).intoArray(output, at);
            }
        }
    }

    /** {@code out[query][d] = O^T[d][query] / sum[query]}. */
    private static void writeOutput(Scratch s, MemorySegment out, long first, int width, int nq, int headDim) {
        for (int i = 0; i < nq; i++) {
            float inverse = 1f / s.rowSum[i];
            long at = first + (long) i * width;
            for (int d = 0; d < headDim; d++) {
                out.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at + d, s.output[d * QUERY_BLOCK + i] * inverse);
            }
        }
    }

    /**
     * {@code tile = A_strip . B_panel} over {@code kc}: A k-major {@code [kc][MR]}, B k-major {@code [kc][NR]};
     * twelve accumulators in registers, nothing else in the loop (see {@link GemmKernel}).
     */
    private static void multiply(float[] a, int aOffset, float[] b, int bOffset, int kc, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c10 = FloatVector.zero(S);
        FloatVector c11 = FloatVector.zero(S), c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S), c40 = FloatVector.zero(S);
        FloatVector c41 = FloatVector.zero(S), c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        int ao = aOffset;
        int bo = bOffset;
        for (int kk = 0; kk < kc; kk++, ao += MR, bo += NR) {
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

    private static void storeTile(float[] tile, float[] c, int offset, int ldc) {
        for (int r = 0; r < MR; r++) {
            System.arraycopy(tile, r * NR, c, offset + r * ldc, NR);
        }
    }

    private static void addTile(float[] tile, float[] c, int offset, int ldc) {
        for (int r = 0; r < MR; r++) {
            int at = offset + r * ldc;
            FloatVector.fromArray(S, c, at).add(FloatVector.fromArray(S, tile, r * NR)).intoArray(c, at);
            FloatVector.fromArray(S, c, at + VL).add(FloatVector.fromArray(S, tile, r * NR + VL)).intoArray(c, at + VL);
        }
    }
}
