package dev.jdiffusion.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector maths whose results do not depend on the JIT: an exp built only from exactly-rounded
 * operations (add, multiply, FMA, bit moves), and lane sums in a fixed order.
 * The Vector API's own {@code EXP} gives results that differ in the last bit between the interpreter,
 * C1 and C2 (which calls an SVML routine), and between machines; these give the same bits everywhere,
 * so a forward pass is reproducible and a batch of two equals two batches of one exactly.
 */
final class VectorMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private static final float LOG2E = 1.44269504088896341f;
    // ln 2 split so that n * LN2_HI is exact for |n| < 2^10 (Cody-Waite)
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    // Cephes expf: exp(r) = 1 + r + r^2 P(r) on |r| <= ln2 / 2, relative error < 2e-7
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;
    /** Inputs are clamped here: e^x stays finite and normal (2^-126 <= e^x < 2^127.4). */
    private static final float MAX_INPUT = 88.3f;
    private static final float MIN_INPUT = -87.33654f;
    /** 1.5 * 2^23: adding it rounds a float of magnitude < 2^22 to an integer. */
    private static final float ROUND = 12582912f;
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    // 2^f = 1 + f (Q1 + f (Q2 + ... + f Q6)) on |f| <= 1/2, fitted for the least relative error once the
    // coefficients are rounded to float: under 8e-8 (a little over one unit in the last place)
    private static final float Q1 = 0.693147182f;
    private static final float Q2 = 0.240226477f;
    private static final float Q3 = 5.55033237e-2f;
    private static final float Q4 = 9.61843785e-3f;
    private static final float Q5 = 1.33988727e-3f;
    private static final float Q6 = 1.53533416e-4f;
    /** The least power of two {@link #exp2InPlace} scales by: its results stay normal floats. */
    private static final int MIN_EXP2_EXPONENT = -125;

    private VectorMath() {}

    /** e^x per lane, relative error < 2.5e-7 on [-87.3, 88.3]; clamped outside (about 1e-38 below, 2e38 above). */
    static FloatVector exp(FloatVector x) {
        // Clamped by compare and blend: FloatVector.max/min keep Java's NaN and signed-zero rules, which
        // C2 spells out in several instructions; these take two each and still pass NaN through.
        return expInRange(clampBelow(x).blend(MAX_INPUT, x.compare(VectorOperators.GT, MAX_INPUT)));
    }

    /**
     * e^x per lane for x <= 0, as a softmax takes it after subtracting the maximum: {@link #exp} without the
     * clamp above, which such inputs never reach.
     */
    static FloatVector expOfNonPositive(FloatVector x) {
        return expInRange(clampBelow(x));
    }

    private static FloatVector clampBelow(FloatVector x) {
        return x.blend(MIN_INPUT, x.compare(VectorOperators.LT, MIN_INPUT));
    }

    /**
     * e^v for v in [MIN_INPUT, MAX_INPUT]: fourteen vector operations, all exactly rounded (with the clamps,
     * eighteen for {@link #exp} and sixteen for {@link #expOfNonPositive}).
     */
    private static FloatVector expInRange(FloatVector v) {
        // t = 1.5 * 2^23 + n, with n = round(v / ln 2) in its low mantissa bits (one rounding, in the FMA)
        FloatVector t = v.fma(LOG2E, ROUND);
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), v);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1).fma(r, FloatVector.broadcast(S, P2)).fma(r, FloatVector.broadcast(S, P3))
                .fma(r, FloatVector.broadcast(S, P4)).fma(r, FloatVector.broadcast(S, P5));
        // 1 + r + r^2 p, as 1 + r (1 + r p)
        FloatVector one = FloatVector.broadcast(S, 1f);
        FloatVector y = r.fma(r.fma(p, one), one);
        // 2^n from t's bits: (bits + 127) << 23 shifts t's own exponent out and leaves n + 127 in the exponent
        IntVector exponent = t.reinterpretAsInts().add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(exponent.reinterpretAsFloats());
    }

    /*
     * The two passes below are written with the Vector API's own operations only, which C2 always inlines, and
     * take and give their vectors through arrays. A method called inside a hot loop is inlined only while the
     * compilation has node budget left; out of line, every vector it takes and returns is boxed on the heap,
     * and its operations on a vector whose exact class it cannot see may run as plain Java. Attention, its
     * softmax calling an exponential in the loop, ran at 40-60% of its speed in whole U-Net steps where that
     * budget ran out.
     */

    /**
     * {@code max[at, at + VL)}: the lane-wise largest of {@code count} vectors of {@code values}, {@code stride}
     * floats apart from {@code first}, by compare and blend, cheaper than {@link FloatVector#max}: NaN lanes are
     * passed over; negative infinity when {@code count} is 0. In four chains: in one, each compare and blend
     * waits for the one before.
     */
    static void largestOf(float[] values, int first, int stride, int count, float[] max, int at) {
        FloatVector m0 = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        FloatVector m1 = m0, m2 = m0, m3 = m0;
        int j = 0;
        for (; j + 4 <= count; j += 4) {
            int from = first + j * stride;
            FloatVector v0 = FloatVector.fromArray(S, values, from);
            FloatVector v1 = FloatVector.fromArray(S, values, from + stride);
            FloatVector v2 = FloatVector.fromArray(S, values, from + 2 * stride);
            FloatVector v3 = FloatVector.fromArray(S, values, from + 3 * stride);
            m0 = m0.blend(v0, v0.compare(VectorOperators.GT, m0));
            m1 = m1.blend(v1, v1.compare(VectorOperators.GT, m1));
            m2 = m2.blend(v2, v2.compare(VectorOperators.GT, m2));
            m3 = m3.blend(v3, v3.compare(VectorOperators.GT, m3));
        }
        for (; j < count; j++) {
            FloatVector v = FloatVector.fromArray(S, values, first + j * stride);
            m0 = m0.blend(v, v.compare(VectorOperators.GT, m0));
        }
        m1 = m1.blend(m0, m0.compare(VectorOperators.GT, m1));
        m3 = m3.blend(m2, m2.compare(VectorOperators.GT, m3));
        m3.blend(m1, m1.compare(VectorOperators.GT, m3)).intoArray(max, at);
    }

    /**
     * Replaces each of {@code count} vectors of {@code values}, {@code stride} floats apart from {@code first}, by
     * {@code 2^(v - shift)}, with {@code shift} the vector at {@code shifts[shiftAt]}; their lane-wise sum, added
     * in order, goes to {@code sum[sumAt]} unless {@code sum} is null. This is the exponential a softmax takes once
     * its scores are in base 2 and their maximum is subtracted: for finite {@code x = v - shift <= 0}, relative
     * error under 1.2e-7 down to 2^-125, and below that a value near 2^-125 (about 2e-38) instead of zero; other
     * inputs give unspecified values. Twelve vector operations per vector, all exactly rounded or exact, against
     * the sixteen of {@link #expOfNonPositive}.
     */
    static void exp2InPlace(float[] values, int first, int stride, int count, float[] shifts, int shiftAt, float[] sum,
            int sumAt) {
        FloatVector shift = FloatVector.fromArray(S, shifts, shiftAt);
        FloatVector total = FloatVector.zero(S);
        for (int j = 0; j < count; j++) {
            int at = first + j * stride;
            FloatVector x = FloatVector.fromArray(S, values, at).sub(shift);
            // t = 1.5 * 2^23 + n with n = round(x) in its low mantissa bits; f = x - n, exactly, in [-1/2, 1/2]
            FloatVector t = x.add(ROUND);
            FloatVector f = x.sub(t.sub(ROUND));
            FloatVector p = f.fma(Q6, Q5).fma(f, FloatVector.broadcast(S, Q4)).fma(f, FloatVector.broadcast(S, Q3))
                    .fma(f, FloatVector.broadcast(S, Q2)).fma(f, FloatVector.broadcast(S, Q1))
                    .fma(f, FloatVector.broadcast(S, 1f));
            // 2^n multiplies p by adding n to its exponent: t's bits shifted left by 23 leave n << 23, because
            // ROUND's own bits end in nine zeros; n is first held at MIN_EXP2_EXPONENT so that p 2^n stays normal
            IntVector n = t.reinterpretAsInts().lanewise(VectorOperators.MAX, ROUND_BITS + MIN_EXP2_EXPONENT)
                    .lanewise(VectorOperators.LSHL, 23);
            FloatVector e = p.reinterpretAsInts().add(n).reinterpretAsFloats();
            e.intoArray(values, at);
            total = total.add(e);
        }
        if (sum != null) {
            total.intoArray(sum, sumAt);
        }
    }

    /**
     * The sum of the lanes, added in lane order. {@code reduceLanes(ADD)} leaves the order open and it
     * differs between the JIT tiers, which would make results depend on how warm the code is.
     */
    static float sum(FloatVector v) {
        float total = 0f;
        for (int i = 0; i < S.length(); i++) {
            total += v.lane(i);
        }
        return total;
    }

    /**
     * The shuffles that swap lane {@code i} with lane {@code i ^ distance}, for the distances of a pairwise sum: half
     * the vector, a quarter, an eighth and a sixteenth (null where the vector is too short). Each its own constant,
     * so that the JIT compiles each rearrange to a single permute.
     */
    private static final VectorShuffle<Float> HALVES = pairs(S.length() / 2);
    private static final VectorShuffle<Float> QUARTERS = pairs(S.length() / 4);
    private static final VectorShuffle<Float> EIGHTHS = pairs(S.length() / 8);
    private static final VectorShuffle<Float> SIXTEENTHS = pairs(S.length() / 16);

    private static VectorShuffle<Float> pairs(int distance) {
        return distance < 1 ? null : VectorShuffle.fromOp(S, i -> i ^ distance);
    }

    /**
     * {@code sums[i]}: the sum of the lanes of the vector at {@code vectors[i * VL]}, for {@code i < count}, added
     * pairwise (each lane with the one half a vector away, then a quarter, down to the neighbour): a fixed order
     * like {@link #sum}'s, in a few whole-vector steps rather than a lane at a time. Vectors of up to 16 lanes
     * (AVX-512's floats); longer ones are summed by {@link #sum}. The vectors come in an array, as the passes
     * above take theirs: a vector handed to a method C2 did not inline is boxed, and its operations there may
     * run as plain Java (a summing method that took a vector allocated 80 MB per 512x512 narrow convolution).
     */
    static void pairwiseSums(float[] vectors, int count, float[] sums) {
        int lanes = S.length();
        for (int i = 0; i < count; i++) {
            FloatVector v = FloatVector.fromArray(S, vectors, i * lanes);
            if (lanes > 16) {
                sums[i] = sum(v);
                continue;
            }
            if (HALVES != null) {
                v = v.add(v.rearrange(HALVES));
            }
            if (QUARTERS != null) {
                v = v.add(v.rearrange(QUARTERS));
            }
            if (EIGHTHS != null) {
                v = v.add(v.rearrange(EIGHTHS));
            }
            if (SIXTEENTHS != null) {
                v = v.add(v.rearrange(SIXTEENTHS));
            }
            sums[i] = v.lane(0);
        }
    }
}
