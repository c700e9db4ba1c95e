package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Multi-head attention computed flash-style: for each block of queries the keys are visited in blocks
 * with an online softmax (running maximum and sum, earlier partial results rescaled when the maximum
 * grows), so memory is O(block x head width) whatever the sequence length; the full score matrix is
 * never formed. One task per (batch, head, query block).
 */
final class AttentionKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final int QUERY_BLOCK = 32;
    private static final int KEY_BLOCK = 8 * VL;

    /** Per-thread buffers, grown to the largest head width seen. */
    private static final class Scratch {
        float[] keysTransposed = new float[0]; // [headDim][KEY_BLOCK]
        float[] scores = new float[KEY_BLOCK];
        float[] query = new float[0]; // [headDim], pre-scaled
        float[] output = new float[0]; // [QUERY_BLOCK][paddedHeadDim]
        float[] rowMax = new float[QUERY_BLOCK];
        float[] rowSum = new float[QUERY_BLOCK];

        void fit(int headDim, int paddedHeadDim) {
            if (query.length < headDim) {
                keysTransposed = new float[headDim * KEY_BLOCK];
                query = new float[headDim];
            }
            if (output.length < QUERY_BLOCK * paddedHeadDim) {
                output = new float[QUERY_BLOCK * paddedHeadDim];
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
        int width = heads * headDim;
        int padded = (headDim + VL - 1) / VL * VL;
        int nq = Math.min(QUERY_BLOCK, queries - q0);
        Scratch s = SCRATCH.get();
        s.fit(headDim, padded);
        float[] kt = s.keysTransposed;
        float[] scores = s.scores;
        float[] acc = s.output;
        Arrays.fill(acc, 0, nq * padded, 0f);
        Arrays.fill(s.rowMax, 0, nq, Float.NEGATIVE_INFINITY);
        Arrays.fill(s.rowSum, 0, nq, 0f);

        long headOffset = (long) head * headDim;
        int keyLimit = causal ? Math.min(keys, q0 + nq) : keys;
        for (int k0 = 0; k0 < keyLimit; k0 += KEY_BLOCK) {
            int nk = Math.min(KEY_BLOCK, keyLimit - k0);
            for (int j = 0; j < nk; j++) {
                long row = ((long) b * keys + k0 + j) * width + headOffset;
                for (int d = 0; d < headDim; d++) {
                    kt[d * KEY_BLOCK + j] = k.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, row + d);
                }
            }
            for (int i = 0; i < nq; i++) {
                int visible = causal ? Math.min(nk, q0 + i - k0 + 1) : nk;
                if (visible <= 0) {
                    continue;
                }
                long queryRow = ((long) b * queries + q0 + i) * width + headOffset;
                for (int d = 0; d < headDim; d++) {
                    s.query[d] = q.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, queryRow + d) * scale;
                }
                float blockMax = scores(s.query, kt, headDim, visible, scores);
                float oldMax = s.rowMax[i];
                float newMax = Math.max(oldMax, blockMax);
                float rescale = oldMax == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(oldMax - newMax);
                float blockSum = exponentiate(scores, visible, newMax);
                s.rowMax[i] = newMax;
                s.rowSum[i] = s.rowSum[i] * rescale + blockSum;
                accumulate(acc, i * padded, headDim, rescale, scores, visible, v,
                        ((long) b * keys + k0) * width + headOffset, width);
            }
        }
        for (int i = 0; i < nq; i++) {
            float inverse = 1f / s.rowSum[i];
            long outRow = (((long) b * queries + q0 + i) * width + headOffset) * Float.BYTES;
            for (int d = 0; d < headDim; d += VL) {
                VectorMask<Float> m = S.indexInRange(d, headDim);
                FloatVector.fromArray(S, acc, i * padded + d).mul(inverse)
                        .intoMemorySegment(out, outRow + (long) d * Float.BYTES, ORDER, m);
            }
        }
    }

    /** {@code scores[j] = query . key_j} for {@code j < count}; returns their maximum. */
    private static float scores(float[] query, float[] kt, int headDim, int count, float[] scores) {
        FloatVector max = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int j = 0; j < count; j += VL) {
            FloatVector dot = FloatVector.zero(S);
            for (int d = 0; d < headDim; d++) {
                dot = FloatVector.fromArray(S, kt, d * KEY_BLOCK + j).fma(FloatVector.broadcast(S, query[d]), dot);
            }
            VectorMask<Float> m = S.indexInRange(j, count);
            dot.intoArray(scores, j);
            max = max.lanewise(VectorOperators.MAX, dot, m);
        }
        return max.reduceLanes(VectorOperators.MAX);
    }

    /** {@code scores[j] = exp(scores[j] - max)} for {@code j < count}; returns their sum. */
    private static float exponentiate(float[] scores, int count, float max) {
        FloatVector sum = FloatVector.zero(S);
        for (int j = 0; j < count; j += VL) {
            VectorMask<Float> m = S.indexInRange(j, count);
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, scores, j).sub(max));
            e.intoArray(scores, j);
            sum = sum.add(e, m);
        }
        return VectorMath.sum(sum);
    }

    /** {@code acc = acc * rescale + sum_j p_j v_j} over the {@code count} keys of the block. */
    private static void accumulate(float[] acc, int offset, int headDim, float rescale, float[] p, int count,
            MemorySegment v, long firstValue, int width) {
        for (int d = 0; d < headDim; d += VL) {
            VectorMask<Float> m = S.indexInRange(d, headDim);
            FloatVector sum = FloatVector.fromArray(S, acc, offset + d).mul(rescale);
            long at = (firstValue + d) * Float.BYTES;
            for (int j = 0; j < count; j++, at += (long) width * Float.BYTES) {
                sum = FloatVector.fromMemorySegment(S, v, at, ORDER, m).fma(FloatVector.broadcast(S, p[j]), sum);
            }
            sum.intoArray(acc, offset + d);
        }
    }
}
