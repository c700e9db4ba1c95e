package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;

final class KernelAsserts {
    private KernelAsserts() {}

    /** Shapes that catch edge handling: 1, primes, and sizes around the vector length. */
    static final int[] AWKWARD = {1, 2, 3, 5, 7, 13, 15, 16, 17, 31, 33, 63, 97};

    static float[] random(Random r, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * scale);
        }
        return x;
    }

    static void assertClose(double[] expected, float[] actual, double absolute, double relative, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double tolerance = absolute + relative * Math.abs(expected[i]);
            if (!(Math.abs(expected[i] - actual[i]) <= tolerance)) {
                fail(what + ": element " + i + " expected " + expected[i] + " but was " + actual[i]
                        + " (tolerance " + tolerance + ")");
            }
        }
    }
}
