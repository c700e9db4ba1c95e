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
 * Multi-head attention computed flash-style: for each block of queries, the keys are visited in blocks
 * with an online softmax (running maximum and sum; earlier partial results rescaled when the maximum
 * grows), so memory is O(block x head width) whatever the sequence length; the full score matrix is
 * never formed. The keys and values of a group of heads are packed once (in parallel; at most
 * {@link #PACKED_FLOATS} floats each), then the query blocks of all those heads run in parallel over them.
 *
 * <p>Both products run on register-blocked micro-kernels ({@link #MR} x {@link #NR} tiles, like the
 * GEMM's), and both keep the queries on the wide side: the scores as {@code S^T = K Q^T} (keys as rows),
 * the output as {@code O^T += V^T P^T}. The score tiles then land directly in the panel layout the second
 * product reads, and the softmax runs down the columns with whole vectors of queries, so nothing is
 * transposed and narrow heads (40 wide in SD's first level) still fill whole tiles.
 *
 * <p>The scores are taken in base 2: the queries are packed times {@code scale * log2(e)}, and the softmax
 * raises 2 rather than e to each score less the maximum. The weights are the same, at four vector operations
 * fewer per vector of scores; the softmax costs about a quarter as much as the products of a 40-wide head.
 */
final class AttentionKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    /**
     * Whether the tiles are sized for sixteen vector registers (AVX2): 24 accumulators would not fit, and the
     * compiled loop would keep some on the stack.
     */
    private static final boolean SMALL_TILES = KernelChoice.SIXTEEN_VECTOR_REGISTERS;
    /**
     * Rows per micro-kernel tile: eight, so that the head widths of SD (40, 80, 160, 64) fill whole strips of
     * V^T (six would pad a 40-wide head to 42 and waste a twentieth of the second product); four, which those
     * widths fill too, for sixteen registers.
     */
    private static final int MR = SMALL_TILES ? 4 : 8;
    /**
     * Columns (queries) per tile: three vectors, for 24 accumulators. A head's width is the whole K of the score
     * product (40 in SD's first level), so each tile is short and its setup and stores weigh; the wider tile does
     * half as much more work for them than two vectors would. Two vectors (eight accumulators) for sixteen
     * registers.
     */
    private static final int NR = (SMALL_TILES ? 2 : 3) * VL;
    /** Queries per task: a whole number of NR-wide panels (and of MR-row strips). */
    private static final int QUERY_BLOCK = 2 * NR;
    /** Keys per block: a whole number of MR-row strips (4096 keys are 32 blocks). */
    private static final int KEY_BLOCK = 16 * MR;
    /**
     * Most floats of packed keys (and of values) held at once: 32 MB each, room for all sixteen heads of a guided
     * 64x64-latent step (4096 tokens, 40 wide) in one group.
     */
    private static final int PACKED_FLOATS = 1 << 23;
    private static final FloatVector LANE_INDEX = FloatVector.fromArray(S, laneIndices(), 0);
    private static final float LOG2_E = 1.44269504088896341f;
    private static final float[] ZERO_SHIFT = new float[VL];
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /**
     * Whether queries go into their panels by scatters, and outputs out of them by gathers: where these are
     * single instructions (AVX-512, SVE), a third faster on cross-attention than lane by lane; elsewhere the
     * Vector API stands in for them with code that allocates on every call (40 MB per 4096-token attention).
     */
    private static final boolean SCATTER = VectorKernels.nativeScatter();
    /** Index maps down a column: of the packed queries' panels (row stride NR), and of O^T (QUERY_BLOCK). */
    private static final int[] QUERY_COLUMN = stride(NR);
    private static final int[] OUTPUT_COLUMN = stride(QUERY_BLOCK);

    /**
     * Per-thread buffers, grown to the largest head width seen. The three that the products and the softmax read
     * and write by whole vectors are used from their first cache line ({@link ArrayAlignment}), found again for
     * every query block: {@code queriesAt}, {@code probabilitiesAt} and {@code outputAt}.
     */
    private static final class Scratch {
        int headDim = -1;
        int paddedDim;
        float[] queries; // B panels of Q^T: [QUERY_BLOCK / NR][headDim][NR], scaled into base-2 scores
        // B panels of S^T, then P^T: [panel][key][NR]
        float[] probabilities = new float[KEY_BLOCK * QUERY_BLOCK + ArrayAlignment.SLACK_FLOATS];
        float[] output; // O^T: [paddedDim][QUERY_BLOCK]
        int queriesAt;
        int probabilitiesAt;
        int outputAt;
        float[] rowMax = new float[QUERY_BLOCK];
        float[] rowSum = new float[QUERY_BLOCK];
        float[] rescale = new float[QUERY_BLOCK];
        // per query, for the key block at work: what its scores are shifted by, their maximum and their sum
        float[] shift = new float[QUERY_BLOCK];
        float[] blockMax = new float[QUERY_BLOCK];
        float[] blockSum = new float[QUERY_BLOCK];
        /** One vector's lanes, on their way between a row and a column. */
        float[] lanes = new float[VL];

        void fit(int dim) {
            if (dim != headDim) {
                headDim = dim;
                paddedDim = (dim + MR - 1) / MR * MR;
                // one vector of slack past each: the column scatter and gather check every lane's index, even
                // the lanes a head narrower than a whole number of vectors masks off
                queries = new float[QUERY_BLOCK * dim + VL * NR + ArrayAlignment.SLACK_FLOATS];
                output = new float[(paddedDim + VL) * QUERY_BLOCK + ArrayAlignment.SLACK_FLOATS];
            }
        }

        /** Finds where the first cache lines of the vector buffers are now. */
        void findLines() {
            queriesAt = ArrayAlignment.lineStart(queries, 0);
            probabilitiesAt = ArrayAlignment.lineStart(probabilities, 0);
            outputAt = ArrayAlignment.lineStart(output, 0);
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    private static final ThreadLocal<float[][]> PACKED_HEADS = ThreadLocal.withInitial(() -> new float[][] {{}, {}});

    private AttentionKernel() {}

    private static int[] stride(int step) {
        int[] indexes = new int[VL];
        for (int i = 0; i < VL; i++) {
            indexes[i] = i * step;
        }
        return indexes;
    }

    private static float[] laneIndices() {
        float[] index = new float[VL];
        for (int i = 0; i < VL; i++) {
            index[i] = i;
        }
        return index;
    }

    /**
     * @param q {@code [batch, queries, heads * headDim]}
     * @param k {@code [batch, keys, heads * headDim]}
     * @param v {@code [batch, keys, heads * headDim]}
     * @param out {@code [batch, queries, heads * headDim]}
     * @param causal query {@code i} sees keys {@code 0..i} only (queries == keys)
     */
    static void attention(Parallel parallel, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
            int batch, int queries, int keys, int heads, int headDim, float scale, boolean causal) {
        attention(parallel, q, k, v, out, batch, queries, keys, heads, headDim, scale, causal, PACKED_FLOATS);
    }

    /** As above, the heads packed in groups of at most {@code packedFloats} floats of keys (and of values). */
    static void attention(Parallel parallel, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
            int batch, int queries, int keys, int heads, int headDim, float scale, boolean causal, int packedFloats) {
        int queryBlocks = (queries + QUERY_BLOCK - 1) / QUERY_BLOCK;
        int keyBlocks = (keys + KEY_BLOCK - 1) / KEY_BLOCK;
        int paddedDim = (headDim + MR - 1) / MR * MR;
        int items = batch * heads;
        int keysPerItem = keyBlocks * KEY_BLOCK * headDim;
        int valuesPerItem = keyBlocks * KEY_BLOCK * paddedDim;
        // heads (of all batch items) go in groups whose packed keys and values stay under packedFloats each
        int group = Math.max(1, Math.min(items, packedFloats / valuesPerItem));
        // the packed keys and values, shared by all the query blocks of their head; the buffers belong to
        // the calling thread and are reused by its later calls
        float[][] buffers = PACKED_HEADS.get();
        if (buffers[0].length < group * keysPerItem || buffers[1].length < group * valuesPerItem) {
            buffers[0] = new float[Math.max(buffers[0].length, group * keysPerItem)];
            buffers[1] = new float[Math.max(buffers[1].length, group * valuesPerItem)];
        }
        float[] packedKeys = buffers[0];
        float[] packedValues = buffers[1];
        int width = heads * headDim;
        for (int first = 0; first < items; first += group) {
            int firstItem = first;
            int count = Math.min(group, items - first);
            // one task list over the group's heads, not one per head: a head's last query blocks would
            // otherwise leave the other threads waiting at every head
            parallel.forEach(count * keyBlocks, task -> {
                int slot = task / keyBlocks;
                int item = firstItem + slot;
                int kb = task % keyBlocks;
                int nk = Math.min(KEY_BLOCK, keys - kb * KEY_BLOCK);
                long firstKey = ((long) (item / heads) * keys + (long) kb * KEY_BLOCK) * width
                        + (long) (item % heads) * headDim;
                packKeys(k, firstKey, width, nk, headDim, packedKeys, slot * keysPerItem + kb * KEY_BLOCK * headDim);
                packValues(v, firstKey, width, nk, headDim, paddedDim, packedValues,
                        slot * valuesPerItem + kb * KEY_BLOCK * paddedDim);
            });
            parallel.forEach(count * queryBlocks, task -> {
                int slot = task / queryBlocks;
                int item = firstItem + slot;
                block(q, packedKeys, slot * keysPerItem, packedValues, slot * valuesPerItem, out, item / heads,
                        item % heads, task % queryBlocks * QUERY_BLOCK, queries, keys, heads, headDim, scale, causal);
            });
        }
    }

    private static void block(MemorySegment q, float[] packedKeys, int keysOffset, float[] packedValues,
            int valuesOffset, MemorySegment out, int b, int head, int q0, int queries, int keys, int heads, int headDim,
            float scale, boolean causal) {
        Scratch s = SCRATCH.get();
        s.fit(headDim);
        s.findLines();
        int width = heads * headDim;
        long headOffset = (long) head * headDim;
        int nq = Math.min(QUERY_BLOCK, queries - q0);
        packQueries(q, ((long) b * queries + q0) * width + headOffset, width, nq, headDim, scale * LOG2_E, s.queries,
                s.queriesAt, s.lanes);
        Arrays.fill(s.rowMax, Float.NEGATIVE_INFINITY);
        Arrays.fill(s.rowSum, 0f);

        int keyLimit = causal ? Math.min(keys, q0 + nq) : keys;
        for (int k0 = 0; k0 < keyLimit; k0 += KEY_BLOCK) {
            int nk = Math.min(KEY_BLOCK, keyLimit - k0);
            int keyBase = keysOffset + k0 * headDim;
            for (int strip = 0; strip * MR < nk; strip++) {
                for (int panel = 0; panel * NR < nq; panel++) {
                    // S^T tile straight into its place in the P^T panels (MR consecutive rows of NR)
                    multiply(packedKeys, keyBase + strip * headDim * MR, s.queries, s.queriesAt + panel * headDim * NR,
                            headDim, s.probabilities, s.probabilitiesAt + (panel * KEY_BLOCK + strip * MR) * NR, NR,
                            null, 0);
                }
            }
            softmaxBlock(s, nq, nk, causal ? q0 - k0 : Integer.MAX_VALUE);
            int valueBase = valuesOffset + k0 * s.paddedDim;
            // O^T = O^T * rescale + V^T P^T, the rescale applied as each tile is loaded; the first block starts from zero
            float[] rescale = k0 == 0 ? null : s.rescale;
            for (int strip = 0; strip * MR < s.paddedDim; strip++) {
                for (int panel = 0; panel * NR < nq; panel++) {
                    multiply(packedValues, valueBase + strip * KEY_BLOCK * MR, s.probabilities,
                            s.probabilitiesAt + panel * KEY_BLOCK * NR, nk, s.output,
                            s.outputAt + strip * MR * QUERY_BLOCK + panel * NR, QUERY_BLOCK, rescale, panel * NR);
                }
            }
        }
        writeOutput(s, out, ((long) b * queries + q0) * width + headOffset, width, nq, headDim);
    }

    /**
     * Queries as B panels of Q^T {@code [panel][d][NR]} from {@code offset}, times {@code scale}; queries past the
     * block are zero. A vector of each row is read at a time and scattered down its column (where there are few
     * keys, reading the queries float by float from the segment cost as much as the products); without native
     * scatters (see {@link #SCATTER}) its lanes go down the column one by one from {@code lanes}.
     */
    private static void packQueries(MemorySegment q, long first, int width, int nq, int headDim, float scale,
            float[] packed, int offset, float[] lanes) {
        for (int row = 0; row < QUERY_BLOCK; row++) {
            int base = offset + (row / NR) * headDim * NR + row % NR;
            if (row < nq) {
                long at = (first + (long) row * width) * Float.BYTES;
                for (int d = 0; d < headDim; d += VL) {
                    VectorMask<Float> inHead = S.indexInRange(d, headDim);
                    FloatVector scaled =
                            FloatVector.fromMemorySegment(S, q, at + (long) d * Float.BYTES, ORDER, inHead).mul(scale);
                    if (SCATTER) {
                        scaled.intoArray(packed, base + d * NR, QUERY_COLUMN, 0, inHead);
                    } else {
                        scaled.intoArray(lanes, 0);
                        int count = Math.min(VL, headDim - d);
                        for (int j = 0; j < count; j++) {
                            packed[base + (d + j) * NR] = lanes[j];
                        }
                    }
                }
            } else {
                for (int d = 0; d < headDim; d++) {
                    packed[base + d * NR] = 0f;
                }
            }
        }
    }

    /** A block of keys as A strips {@code [strip][d][MR]} at {@code offset}; keys past the block (to the strip's end) are zero. */
    private static void packKeys(MemorySegment k, long first, int width, int nk, int headDim, float[] packed, int offset) {
        int rows = (nk + MR - 1) / MR * MR;
        for (int key = 0; key < rows; key++) {
            int base = offset + (key / MR) * headDim * MR + key % MR;
            if (key < nk) {
                long at = first + (long) key * width;
                for (int d = 0; d < headDim; d++) {
                    packed[base + d * MR] = k.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at + d);
                }
            } else {
                for (int d = 0; d < headDim; d++) {
                    packed[base + d * MR] = 0f;
                }
            }
        }
    }

    /** A block of values as A strips of V^T {@code [strip of MR dims][key][MR]} at {@code offset}. */
    private static void packValues(MemorySegment v, long first, int width, int nk, int headDim, int paddedDim,
            float[] packed, int offset) {
        for (int strip = 0; strip * MR < paddedDim; strip++) {
            int d0 = strip * MR;
            int base = offset + strip * KEY_BLOCK * MR;
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
     * The online softmax over one block of base-2 scores held as S^T panels, a vector of queries at a time:
     * masks keys after the query when causal (key {@code j} is visible to query {@code i} when
     * {@code j <= i + visibleOffset}), raises each query's running maximum, records the factor its earlier
     * sum and output must be rescaled by, and turns the scores into {@code 2^(s - max)} in place.
     *
     * <p>Its passes trade their vectors through the scratch arrays, not as arguments and results: a vector that
     * crosses a call C2 did not inline is boxed on the heap, and inside the callee, compiled apart, its exact
     * class is unknown, so the Vector API's operations on it may run as plain Java, allocating as they go
     * (once, in a whole txt2img, 16 GB for the sums of the softmax, with four times the garbage collections and
     * 15% slower steps). Without a mask, the passes are {@link VectorMath}'s, written with the Vector API's own
     * operations only; the causal ones serve the text encoder's 77 tokens.
     */
    private static void softmaxBlock(Scratch s, int nq, int nk, int visibleOffset) {
        float[] p = s.probabilities;
        boolean causal = visibleOffset != Integer.MAX_VALUE;
        for (int q = 0; q < nq; q += VL) {
            int base = s.probabilitiesAt + (q / NR) * KEY_BLOCK * NR + q % NR;
            if (causal) {
                visibleColumnMax(p, base, nk, q + visibleOffset, s.blockMax, q);
            } else {
                VectorMath.largestOf(p, base, NR, nk, s.blockMax, q);
            }
            FloatVector oldMax = FloatVector.fromArray(S, s.rowMax, q);
            FloatVector blockMax = FloatVector.fromArray(S, s.blockMax, q);
            FloatVector newMax = oldMax.blend(blockMax, blockMax.compare(VectorOperators.GT, oldMax));
            // a query that sees no key yet (causal) keeps max -inf, sum and output zero: shift by 0; one that saw
            // none before this block has nothing to rescale (and 2^-inf has no finite exponent): factor 2^0
            FloatVector shift = newMax.blend(0f, newMax.compare(VectorOperators.EQ, Float.NEGATIVE_INFINITY));
            VectorMask<Float> nothingBefore = oldMax.compare(VectorOperators.EQ, Float.NEGATIVE_INFINITY);
            // the rescale factor's exponent: raised to a power of two for all the columns at once, below
            oldMax.sub(shift).blend(0f, nothingBefore).intoArray(s.rescale, q);
            newMax.intoArray(s.rowMax, q);
            shift.intoArray(s.shift, q);
            if (causal) {
                visibleExp2(p, base, nk, q + visibleOffset, s.shift, q, s.blockSum, q);
            } else {
                VectorMath.exp2InPlace(p, base, NR, nk, s.shift, q, s.blockSum, q);
            }
        }
        int vectors = (nq + VL - 1) / VL;
        VectorMath.exp2InPlace(s.rescale, 0, VL, vectors, ZERO_SHIFT, 0, null, 0);
        for (int q = 0; q < nq; q += VL) {
            FloatVector.fromArray(S, s.rowSum, q).mul(FloatVector.fromArray(S, s.rescale, q))
                    .add(FloatVector.fromArray(S, s.blockSum, q)).intoArray(s.rowSum, q);
        }
        for (int q = nq; q < QUERY_BLOCK; q++) {
            s.rescale[q] = 1f;
        }
    }

    /**
     * {@code max[at + lane]}: the largest score down the columns from {@code base} among the keys each query
     * sees, key {@code j} where {@code j <= visibleFrom + lane}.
     */
    private static void visibleColumnMax(float[] p, int base, int nk, int visibleFrom, float[] max, int at) {
        FloatVector visibleUpTo = LANE_INDEX.add((float) visibleFrom);
        FloatVector largest = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int j = 0; j < nk; j++) {
            FloatVector score = FloatVector.fromArray(S, p, base + j * NR);
            largest = largest.blend(score,
                    score.compare(VectorOperators.GT, largest).and(visibleUpTo.compare(VectorOperators.GE, j)));
        }
        largest.intoArray(max, at);
    }

    /**
     * Turns the scores down the columns from {@code base} into {@code 2^(s - shift[shiftAt + lane])} where the
     * query sees the key ({@code j <= visibleFrom + lane}) and zero elsewhere, in place; their sums go to
     * {@code sum[sumAt + lane]}. The exponentials of the keys not seen are taken too, and then replaced.
     */
    private static void visibleExp2(float[] p, int base, int nk, int visibleFrom, float[] shift, int shiftAt,
            float[] sum, int sumAt) {
        VectorMath.exp2InPlace(p, base, NR, nk, shift, shiftAt, null, 0);
        FloatVector visibleUpTo = LANE_INDEX.add((float) visibleFrom);
        FloatVector total = FloatVector.zero(S);
        for (int j = 0; j < nk; j++) {
            int at = base + j * NR;
            FloatVector e = FloatVector.fromArray(S, p, at).blend(0f, visibleUpTo.compare(VectorOperators.LT, j));
            e.intoArray(p, at);
            total = total.add(e);
        }
        total.intoArray(sum, sumAt);
    }

    /**
     * {@code out[query][d] = O^T[d][query] / sum[query]}: each query's row gathered from its column of O^T, a
     * vector at a time (without native gathers, collected lane by lane into {@code lanes}).
     */
    private static void writeOutput(Scratch s, MemorySegment out, long first, int width, int nq, int headDim) {
        float[] lanes = s.lanes;
        for (int i = 0; i < nq; i++) {
            float inverse = 1f / s.rowSum[i];
            long at = (first + (long) i * width) * Float.BYTES;
            for (int d = 0; d < headDim; d += VL) {
                VectorMask<Float> inHead = S.indexInRange(d, headDim);
                FloatVector column;
                if (SCATTER) {
                    column = FloatVector.fromArray(S, s.output, s.outputAt + d * QUERY_BLOCK + i, OUTPUT_COLUMN, 0,
                            inHead);
                } else {
                    int count = Math.min(VL, headDim - d);
                    for (int j = 0; j < count; j++) {
                        lanes[j] = s.output[s.outputAt + (d + j) * QUERY_BLOCK + i];
                    }
                    column = FloatVector.fromArray(S, lanes, 0);
                }
                column.mul(inverse).intoMemorySegment(out, at + (long) d * Float.BYTES, ORDER, inHead);
            }
        }
    }

    /**
     * {@code C = C0 + A_strip . B_panel} over {@code kc} for one {@code MR x NR} tile of C at {@code cOffset}
     * (row stride {@code ldc}): A k-major {@code [kc][MR]}, B k-major {@code [kc][NR]}; C0 is zero when
     * {@code factor} is null, else C's own values times {@code factor[factorOffset + column]} (the online
     * softmax's rescale). The accumulators stay in registers, nothing else in the loop (see {@link GemmKernel}).
     * It differs from the GEMM's kernel where attention needs it to: with 32 registers, eight rows rather than six
     * (see {@link #MR}) and three vectors of columns rather than two (see {@link #NR}); and C a heap array scaled
     * as it is loaded rather than an off-heap matrix started from a bias. The tile size is a constant, so only one
     * of the two kernels is ever compiled in.
     */
    private static void multiply(float[] a, int aOffset, float[] b, int bOffset, int kc, float[] c, int cOffset, int ldc,
            float[] factor, int factorOffset) {
        if (SMALL_TILES) {
            multiplyFourRows(a, aOffset, b, bOffset, kc, c, cOffset, ldc, factor, factorOffset);
        } else {
            multiplyEightRows(a, aOffset, b, bOffset, kc, c, cOffset, ldc, factor, factorOffset);
        }
    }

    /** {@link #multiply} on 8 x 3 vector tiles: 24 accumulators, for 32 vector registers. */
    private static void multiplyEightRows(float[] a, int aOffset, float[] b, int bOffset, int kc, float[] c,
            int cOffset, int ldc, float[] factor, int factorOffset) {
        FloatVector c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        FloatVector c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
        int o0 = cOffset, o1 = o0 + ldc, o2 = o1 + ldc, o3 = o2 + ldc;
        int o4 = o3 + ldc, o5 = o4 + ldc, o6 = o5 + ldc, o7 = o6 + ldc;
        if (factor == null) {
            c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = FloatVector.zero(S);
            c40 = c41 = c42 = c50 = c51 = c52 = c60 = c61 = c62 = c70 = c71 = c72 = FloatVector.zero(S);
        } else {
            FloatVector f0 = FloatVector.fromArray(S, factor, factorOffset);
            FloatVector f1 = FloatVector.fromArray(S, factor, factorOffset + VL);
            FloatVector f2 = FloatVector.fromArray(S, factor, factorOffset + 2 * VL);
            c00 = FloatVector.fromArray(S, c, o0).mul(f0);
            c01 = FloatVector.fromArray(S, c, o0 + VL).mul(f1);
            c02 = FloatVector.fromArray(S, c, o0 + 2 * VL).mul(f2);
            c10 = FloatVector.fromArray(S, c, o1).mul(f0);
            c11 = FloatVector.fromArray(S, c, o1 + VL).mul(f1);
            c12 = FloatVector.fromArray(S, c, o1 + 2 * VL).mul(f2);
            c20 = FloatVector.fromArray(S, c, o2).mul(f0);
            c21 = FloatVector.fromArray(S, c, o2 + VL).mul(f1);
            c22 = FloatVector.fromArray(S, c, o2 + 2 * VL).mul(f2);
            c30 = FloatVector.fromArray(S, c, o3).mul(f0);
            c31 = FloatVector.fromArray(S, c, o3 + VL).mul(f1);
            c32 = FloatVector.fromArray(S, c, o3 + 2 * VL).mul(f2);
            c40 = FloatVector.fromArray(S, c, o4).mul(f0);
            c41 = FloatVector.fromArray(S, c, o4 + VL).mul(f1);
            c42 = FloatVector.fromArray(S, c, o4 + 2 * VL).mul(f2);
            c50 = FloatVector.fromArray(S, c, o5).mul(f0);
            c51 = FloatVector.fromArray(S, c, o5 + VL).mul(f1);
            c52 = FloatVector.fromArray(S, c, o5 + 2 * VL).mul(f2);
            c60 = FloatVector.fromArray(S, c, o6).mul(f0);
            c61 = FloatVector.fromArray(S, c, o6 + VL).mul(f1);
            c62 = FloatVector.fromArray(S, c, o6 + 2 * VL).mul(f2);
            c70 = FloatVector.fromArray(S, c, o7).mul(f0);
            c71 = FloatVector.fromArray(S, c, o7 + VL).mul(f1);
            c72 = FloatVector.fromArray(S, c, o7 + 2 * VL).mul(f2);
        }
        int ao = aOffset;
        int bo = bOffset;
        for (int kk = 0; kk < kc; kk++, ao += MR, bo += NR) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + VL);
            FloatVector b2 = FloatVector.fromArray(S, b, bo + 2 * VL);
            FloatVector a0 = FloatVector.broadcast(S, a[ao]);
            c00 = b0.fma(a0, c00);
            c01 = b1.fma(a0, c01);
            c02 = b2.fma(a0, c02);
            FloatVector a1 = FloatVector.broadcast(S, a[ao + 1]);
            c10 = b0.fma(a1, c10);
            c11 = b1.fma(a1, c11);
            c12 = b2.fma(a1, c12);
            FloatVector a2 = FloatVector.broadcast(S, a[ao + 2]);
            c20 = b0.fma(a2, c20);
            c21 = b1.fma(a2, c21);
            c22 = b2.fma(a2, c22);
            FloatVector a3 = FloatVector.broadcast(S, a[ao + 3]);
            c30 = b0.fma(a3, c30);
            c31 = b1.fma(a3, c31);
            c32 = b2.fma(a3, c32);
            FloatVector a4 = FloatVector.broadcast(S, a[ao + 4]);
            c40 = b0.fma(a4, c40);
            c41 = b1.fma(a4, c41);
            c42 = b2.fma(a4, c42);
            FloatVector a5 = FloatVector.broadcast(S, a[ao + 5]);
            c50 = b0.fma(a5, c50);
            c51 = b1.fma(a5, c51);
            c52 = b2.fma(a5, c52);
            FloatVector a6 = FloatVector.broadcast(S, a[ao + 6]);
            c60 = b0.fma(a6, c60);
            c61 = b1.fma(a6, c61);
            c62 = b2.fma(a6, c62);
            FloatVector a7 = FloatVector.broadcast(S, a[ao + 7]);
            c70 = b0.fma(a7, c70);
            c71 = b1.fma(a7, c71);
            c72 = b2.fma(a7, c72);
        }
        c00.intoArray(c, o0);
        c01.intoArray(c, o0 + VL);
        c02.intoArray(c, o0 + 2 * VL);
        c10.intoArray(c, o1);
        c11.intoArray(c, o1 + VL);
        c12.intoArray(c, o1 + 2 * VL);
        c20.intoArray(c, o2);
        c21.intoArray(c, o2 + VL);
        c22.intoArray(c, o2 + 2 * VL);
        c30.intoArray(c, o3);
        c31.intoArray(c, o3 + VL);
        c32.intoArray(c, o3 + 2 * VL);
        c40.intoArray(c, o4);
        c41.intoArray(c, o4 + VL);
        c42.intoArray(c, o4 + 2 * VL);
        c50.intoArray(c, o5);
        c51.intoArray(c, o5 + VL);
        c52.intoArray(c, o5 + 2 * VL);
        c60.intoArray(c, o6);
        c61.intoArray(c, o6 + VL);
        c62.intoArray(c, o6 + 2 * VL);
        c70.intoArray(c, o7);
        c71.intoArray(c, o7 + VL);
        c72.intoArray(c, o7 + 2 * VL);
    }

    /** {@link #multiply} on 4 x 2 vector tiles: eight accumulators, for sixteen vector registers. */
    private static void multiplyFourRows(float[] a, int aOffset, float[] b, int bOffset, int kc, float[] c,
            int cOffset, int ldc, float[] factor, int factorOffset) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31;
        int o0 = cOffset, o1 = o0 + ldc, o2 = o1 + ldc, o3 = o2 + ldc;
        if (factor == null) {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = FloatVector.zero(S);
        } else {
            FloatVector f0 = FloatVector.fromArray(S, factor, factorOffset);
            FloatVector f1 = FloatVector.fromArray(S, factor, factorOffset + VL);
            c00 = FloatVector.fromArray(S, c, o0).mul(f0);
            c01 = FloatVector.fromArray(S, c, o0 + VL).mul(f1);
            c10 = FloatVector.fromArray(S, c, o1).mul(f0);
            c11 = FloatVector.fromArray(S, c, o1 + VL).mul(f1);
            c20 = FloatVector.fromArray(S, c, o2).mul(f0);
            c21 = FloatVector.fromArray(S, c, o2 + VL).mul(f1);
            c30 = FloatVector.fromArray(S, c, o3).mul(f0);
            c31 = FloatVector.fromArray(S, c, o3 + VL).mul(f1);
        }
        int ao = aOffset;
        int bo = bOffset;
        for (int kk = 0; kk < kc; kk++, ao += 4, bo += NR) {
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
        c00.intoArray(c, o0);
        c01.intoArray(c, o0 + VL);
        c10.intoArray(c, o1);
        c11.intoArray(c, o1 + VL);
        c20.intoArray(c, o2);
        c21.intoArray(c, o2 + VL);
        c30.intoArray(c, o3);
        c31.intoArray(c, o3 + VL);
    }
}
