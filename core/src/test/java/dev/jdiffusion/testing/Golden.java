package dev.jdiffusion.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.RawTensor;
import java.util.Arrays;

/** Comparisons of computed tensors with golden ones. */
public final class Golden {
    private Golden() {}

    /** Same shape, and every element within {@code tolerance} (absolute) of the golden value. */
    public static void assertClose(RawTensor expected, Tensor actual, double tolerance, String what) {
        assertArrayEquals(Arrays.stream(expected.shape()).mapToInt(Math::toIntExact).toArray(), actual.shape(),
                what + ": shape");
        assertClose(expected.toFloatArray(), actual.toFloatArray(), tolerance, what);
    }

    public static void assertClose(float[] expected, float[] actual, double tolerance, String what) {
        if (expected.length != actual.length) {
            fail(what + ": " + actual.length + " elements, expected " + expected.length);
        }
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs((double) expected[i] - actual[i]);
            if (!(diff <= worst)) { // also catches NaN
                worst = Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff;
                worstAt = i;
            }
        }
        if (worst > tolerance) {
            fail(what + ": max |difference| " + worst + " at element " + worstAt + " (expected " + expected[worstAt]
                    + ", got " + actual[worstAt] + "), tolerance " + tolerance);
        }
    }
}
