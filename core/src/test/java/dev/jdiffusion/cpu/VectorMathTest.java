package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

class VectorMathTest {

    @Test
    void expIsAccurateOverTheWholeRange() {
        assertAccurate(VectorMath::exp, 88.3f);
    }

    @Test
    void expOfNonPositiveIsAccurateUpToZero() {
        assertAccurate(VectorMath::expOfNonPositive, 0f);
    }

    @Test
    void expOfNonPositiveSaturatesAtZero() {
        float[] x = new float[FloatVector.SPECIES_PREFERRED.length()];
        x[0] = -1000f;
        x[1] = Float.NEGATIVE_INFINITY;
        float[] y = new float[x.length];
        VectorMath.expOfNonPositive(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, 0)).intoArray(y, 0);
        assertTrue(y[0] >= 0 && y[0] < 1e-37f, "exp(-1000) = " + y[0]);
        assertTrue(y[1] >= 0 && y[1] < 1e-37f, "exp(-inf) = " + y[1]);
        assertEquals(1f, y[2]);
    }

    @Test
    void exp2InPlaceIsAccurateDownToTheLeastNormalScale() {
        // every step of 1/1024 from -125 to 0: each fraction the polynomial sees, at every exponent
        float[] x = new float[125 * 1024 + 1];
        for (int i = 0; i < x.length; i++) {
            x[i] = -i / 1024f;
        }
        float[] y = exp2(x);
        for (int i = 0; i < x.length; i++) {
            double exact = Math.pow(2, x[i]);
            if (!(Math.abs(y[i] - exact) / exact < 1.2e-7)) {
                fail("2^" + x[i] + " = " + y[i] + ", exactly " + exact);
            }
        }
    }

    @Test
    void exp2InPlaceIsExactAtIntegersAndStaysTinyFarBelow() {
        float[] y = exp2(new float[] {0f, -1f, -20f, -1000f, -3e38f});
        assertEquals(1f, y[0]);
        assertEquals(0.5f, y[1]);
        assertEquals(0x1p-20f, y[2]);
        assertTrue(y[3] > 0 && y[3] < 1e-37f && Float.isFinite(y[3]), "2^-1000 = " + y[3]);
        assertTrue(y[4] > 0 && y[4] < 1e-37f && Float.isFinite(y[4]), "2^-3e38 = " + y[4]);
    }

    /** 2^x for each of {@code x} (padded to whole vectors), through {@link VectorMath#exp2InPlace} with no shift. */
    private static float[] exp2(float[] x) {
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        float[] values = Arrays.copyOf(x, (x.length + lanes - 1) / lanes * lanes);
        VectorMath.exp2InPlace(values, 0, lanes, values.length / lanes, new float[lanes], 0, null, 0);
        return Arrays.copyOf(values, x.length);
    }

    @Test
    void exp2InPlaceSubtractsTheShiftSkipsTheGapsAndSumsInOrder() {
        VectorSpecies<Float> species = FloatVector.SPECIES_PREFERRED;
        int lanes = species.length();
        int stride = 3 * lanes;
        int count = 37;
        float[] values = new float[count * stride];
        Random random = new Random(5);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * 20);
        }
        float[] shift = new float[lanes];
        for (int lane = 0; lane < lanes; lane++) {
            shift[lane] = 60f + lane;
        }
        float[] shifted = values.clone();
        for (int i = 0; i < shifted.length; i++) {
            shifted[i] -= shift[i % lanes];
        }
        float[] original = values.clone();
        float[] sum = new float[lanes];
        VectorMath.exp2InPlace(values, lanes, stride, count, shift, 0, sum, 0);
        VectorMath.exp2InPlace(shifted, lanes, stride, count, new float[lanes], 0, null, 0);
        float[] expectedSum = new float[lanes];
        for (int j = 0; j < count; j++) {
            for (int lane = 0; lane < lanes; lane++) {
                int at = lanes + j * stride + lane;
                assertEquals(shifted[at], values[at], "vector " + j + ", lane " + lane);
                expectedSum[lane] += shifted[at];
                // the floats between the vectors are left alone
                assertEquals(original[at + lanes], values[at + lanes]);
            }
        }
        assertArrayEquals(expectedSum, sum);
    }

    @Test
    void largestOfTakesTheLargestOfEveryLaneAndPassesOverNaN() {
        VectorSpecies<Float> species = FloatVector.SPECIES_PREFERRED;
        int lanes = species.length();
        Random random = new Random(6);
        for (int count : new int[] {0, 1, 3, 4, 7, 128}) {
            float[] values = new float[count * 2 * lanes];
            float[] expected = new float[lanes];
            Arrays.fill(expected, Float.NEGATIVE_INFINITY);
            for (int j = 0; j < count; j++) {
                for (int lane = 0; lane < lanes; lane++) {
                    float v = lane == 1 && j == count / 2 ? Float.NaN : (float) random.nextGaussian();
                    values[j * 2 * lanes + lane] = v;
                    values[j * 2 * lanes + lanes + lane] = 100f; // between the vectors: never read
                    if (v > expected[lane]) {
                        expected[lane] = v;
                    }
                }
            }
            float[] largest = new float[lanes];
            VectorMath.largestOf(values, 0, 2 * lanes, count, largest, 0);
            assertArrayEquals(expected, largest, "count " + count);
        }
    }

    private static void assertAccurate(UnaryOperator<FloatVector> exp, float upTo) {
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        float[] x = new float[lanes];
        float[] y = new float[lanes];
        double worst = 0;
        for (float start = -87.3f; start < upTo; start += 0.0137f * lanes) {
            for (int i = 0; i < lanes; i++) {
                x[i] = Math.min(upTo, start + 0.0137f * i);
            }
            exp.apply(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, 0)).intoArray(y, 0);
            for (int i = 0; i < lanes; i++) {
                double exact = Math.exp(x[i]);
                double relative = Math.abs(y[i] - exact) / exact;
                worst = Math.max(worst, relative);
                if (!(relative < 2.5e-7)) {
                    fail("exp(" + x[i] + ") = " + y[i] + ", exactly " + exact);
                }
            }
        }
        assertTrue(worst > 0, "the comparison compared something");
    }

    @Test
    void expSaturatesInsteadOfOverflowing() {
        float[] x = new float[FloatVector.SPECIES_PREFERRED.length()];
        x[0] = -1000f;
        x[1] = 1000f;
        x[2] = 0f;
        float[] y = new float[x.length];
        VectorMath.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, 0)).intoArray(y, 0);
        assertTrue(y[0] >= 0 && y[0] < 1e-37f, "exp(-1000) = " + y[0]);
        assertTrue(Float.isFinite(y[1]) && y[1] > 1e38f, "exp(1000) = " + y[1]);
        assertEquals(1f, y[2]);
    }

    @Test
    void pairwiseSumsAddInTheirFixedOrderWhateverTheJit() {
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        int count = 3;
        Random r = new Random(5);
        float[] x = new float[count * lanes];
        float[] sums = new float[count];
        // warm enough for C2 to compile the loop; each result must be the same bits as the written-out order
        for (int round = 0; round < 20_000; round++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(40) - 20));
            }
            VectorMath.pairwiseSums(x, count, sums);
            for (int v = 0; v < count; v++) {
                float[] level = Arrays.copyOfRange(x, v * lanes, (v + 1) * lanes);
                for (int distance = lanes / 2; distance >= 1; distance /= 2) {
                    float[] next = new float[lanes];
                    for (int i = 0; i < lanes; i++) {
                        next[i] = level[i] + level[i ^ distance];
                    }
                    level = next;
                }
                if (Float.floatToRawIntBits(sums[v]) != Float.floatToRawIntBits(level[0])) {
                    fail("round " + round + ", vector " + v + ": " + sums[v] + " where the pairwise order gives "
                            + level[0] + " for " + Arrays.toString(Arrays.copyOfRange(x, v * lanes, (v + 1) * lanes)));
                }
            }
        }
    }
}
