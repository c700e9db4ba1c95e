package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.function.UnaryOperator;
import jdk.incubator.vector.FloatVector;
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
    void exp2OfNonPositiveIsAccurateDownToTheLeastNormalScale() {
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        float[] x = new float[lanes];
        float[] y = new float[lanes];
        // every step of 1/1024 from -125 to 0: each fraction the polynomial sees, at every exponent
        for (int first = -125 * 1024; first <= 0; first += lanes) {
            for (int i = 0; i < lanes; i++) {
                x[i] = Math.min(0, first + i) / 1024f;
            }
            VectorMath.exp2OfNonPositive(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, 0)).intoArray(y, 0);
            for (int i = 0; i < lanes; i++) {
                double exact = Math.pow(2, x[i]);
                if (!(Math.abs(y[i] - exact) / exact < 1.2e-7)) {
                    fail("2^" + x[i] + " = " + y[i] + ", exactly " + exact);
                }
            }
        }
    }

    @Test
    void exp2OfNonPositiveIsExactAtIntegersAndStaysTinyFarBelow() {
        float[] x = new float[FloatVector.SPECIES_PREFERRED.length()];
        x[0] = 0f;
        x[1] = -1f;
        x[2] = -20f;
        x[3] = -1000f;
        x[4] = -3e38f;
        float[] y = new float[x.length];
        VectorMath.exp2OfNonPositive(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, 0)).intoArray(y, 0);
        assertEquals(1f, y[0]);
        assertEquals(0.5f, y[1]);
        assertEquals(0x1p-20f, y[2]);
        assertTrue(y[3] > 0 && y[3] < 1e-37f && Float.isFinite(y[3]), "2^-1000 = " + y[3]);
        assertTrue(y[4] > 0 && y[4] < 1e-37f && Float.isFinite(y[4]), "2^-3e38 = " + y[4]);
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
}
