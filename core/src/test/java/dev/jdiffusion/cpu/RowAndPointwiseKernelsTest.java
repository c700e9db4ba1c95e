package dev.jdiffusion.cpu;

import static dev.jdiffusion.cpu.KernelAsserts.AWKWARD;
import static dev.jdiffusion.cpu.KernelAsserts.assertClose;
import static dev.jdiffusion.cpu.KernelAsserts.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Tensor;
import java.util.Random;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;

class RowAndPointwiseKernelsTest {
    /** The kernels under test; a subclass runs every case on the scalar fallback. */
    CpuKernels kernels() {
        return KernelChoice.kernels();
    }

    private final Random r = new Random(5);

    @Test
    void layerNormMatchesReference() {
        try (CpuBackend backend = new CpuBackend(3, kernels())) {
            for (int rows : new int[] {1, 3, 77}) {
                for (int width : AWKWARD) {
                    float[] x = random(r, rows * width, 3);
                    for (int i = 0; i < x.length; i++) {
                        x[i] += 5; // an offset that a one-pass variance would lose precision on
                    }
                    float[] g = random(r, width, 1);
                    float[] b = random(r, width, 1);
                    try (Tensor tx = backend.fromFloats(x, rows, width); Tensor tg = backend.fromFloats(g, width);
                            Tensor tb = backend.fromFloats(b, width); Tensor y = backend.layerNorm(tx, tg, tb, 1e-5f)) {
                        assertClose(ScalarReference.layerNorm(x, g, b, 1e-5, rows, width), y.toFloatArray(), 2e-6, 2e-6,
                                "layerNorm " + rows + "x" + width);
                    }
                }
            }
        }
    }

    @Test
    void softmaxMatchesReference() {
        try (CpuBackend backend = new CpuBackend(2, kernels())) {
            for (int rows : new int[] {1, 4, 33}) {
                for (int width : AWKWARD) {
                    float[] x = random(r, rows * width, 4);
                    try (Tensor tx = backend.fromFloats(x, rows, width); Tensor y = backend.softmax(tx)) {
                        assertClose(ScalarReference.softmax(x, rows, width), y.toFloatArray(), 1e-7, 2e-6,
                                "softmax " + rows + "x" + width);
                    }
                }
            }
        }
    }

    @Test
    void activationsMatchTheirDefinitions() {
        checkActivation(Activation.GELU, ScalarReference::gelu, 3e-7);
        checkActivation(Activation.QUICK_GELU, ScalarReference::quickGelu, 1e-7);
        checkActivation(Activation.SILU, ScalarReference::silu, 1e-7);
        checkActivation(Activation.IDENTITY, x -> x, 0);
    }

    private void checkActivation(Activation activation, DoubleUnaryOperator reference, double tolerance) {
        try (CpuBackend backend = new CpuBackend(3, kernels())) {
            for (int n : new int[] {1, 7, 16, 17, 100_003}) {
                float[] x = random(r, n, 4);
                x[0] = n == 1 ? 0f : -9.5f; // deep in a tail
                double[] expected = new double[n];
                for (int i = 0; i < n; i++) {
                    expected[i] = reference.applyAsDouble(x[i]);
                }
                try (Tensor tx = backend.fromFloats(x, n); Tensor y = backend.activation(tx, activation)) {
                    float[] actual = y.toFloatArray();
                    // judged relative to |x|: the functions are ~x for large x and vanish for negative x
                    double[] scaled = new double[n];
                    float[] scaledActual = new float[n];
                    for (int i = 0; i < n; i++) {
                        double s = Math.max(1, Math.abs(x[i]));
                        scaled[i] = expected[i] / s;
                        scaledActual[i] = (float) (actual[i] / s);
                    }
                    assertClose(scaled, scaledActual, tolerance + 1.2e-7, 0, activation + " n=" + n);
                }
            }
        }
    }

    @Test
    void addAndAddInPlace() {
        try (CpuBackend backend = new CpuBackend(2, kernels())) {
            for (int n : AWKWARD) {
                float[] a = random(r, n, 1);
                float[] b = random(r, n, 1);
                float[] sum = new float[n];
                for (int i = 0; i < n; i++) {
                    sum[i] = a[i] + b[i];
                }
                try (Tensor ta = backend.fromFloats(a, n); Tensor tb = backend.fromFloats(b, n); Tensor y = backend.add(ta, tb)) {
                    assertArrayEquals(sum, y.toFloatArray());
                    backend.addInPlace(ta, tb);
                    assertArrayEquals(sum, ta.toFloatArray());
                }
            }
            try (Tensor ta = backend.fromFloats(new float[2], 2); Tensor tb = backend.fromFloats(new float[3], 3)) {
                assertThrows(IllegalArgumentException.class, () -> backend.add(ta, tb));
            }
        }
    }

    @Test
    void gatherRowsPicksRowsAndChecksIndices() {
        try (CpuBackend backend = new CpuBackend(1, kernels()); Tensor table = backend.fromFloats(new float[] {0, 1, 10, 11, 20, 21}, 3, 2)) {
            try (Tensor y = backend.gatherRows(table, new int[] {2, 0, 2})) {
                assertArrayEquals(new float[] {20, 21, 0, 1, 20, 21}, y.toFloatArray());
            }
            assertThrows(IndexOutOfBoundsException.class, () -> backend.gatherRows(table, new int[] {3}));
        }
    }
}
