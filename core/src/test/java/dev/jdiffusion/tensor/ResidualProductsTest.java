package dev.jdiffusion.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The products that add a residual ({@code linear} and {@code conv2d} with a residual tensor), as the models use
 * them for their skip connections: the same bits as the product followed by {@code addInPlace}, the residual left
 * as it was, and a residual of another shape than the result refused.
 */
class ResidualProductsTest {
    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) r.nextGaussian();
        }
        return values;
    }

    @Test
    void linearWithAResidualEqualsTheProductPlusTheResidual() {
        try (CpuBackend backend = new CpuBackend(2);
                LinearWeight w = backend.prepareLinear(random(24 * 40, 1), 24, 40);
                Tensor x = backend.fromFloats(random(2 * 7 * 40, 2), 2, 7, 40);
                Tensor bias = backend.fromFloats(random(24, 3), 24);
                Tensor residual = backend.fromFloats(random(2 * 7 * 24, 4), 2, 7, 24);
                Tensor expected = backend.linear(x, w, bias);
                Tensor actual = backend.linear(x, w, bias, residual)) {
            float[] before = residual.toFloatArray();
            backend.addInPlace(expected, residual);
            assertArrayEquals(expected.toFloatArray(), actual.toFloatArray());
            assertArrayEquals(before, residual.toFloatArray(), "the residual is left as it was");
            try (Tensor wrong = backend.fromFloats(random(2 * 7 * 23, 5), 2, 7, 23)) {
                assertThrows(IllegalArgumentException.class, () -> backend.linear(x, w, bias, wrong));
            }
        }
    }

    @Test
    void convolutionWithAResidualEqualsTheConvolutionPlusTheResidual() {
        float[] kernel = random(16 * 8 * 9, 6);
        try (CpuBackend backend = new CpuBackend(2); Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(ValueLayout.JAVA_FLOAT, kernel.length);
            MemorySegment.copy(kernel, 0, data, ValueLayout.JAVA_FLOAT, 0, kernel.length);
            try (ConvWeight w = backend.prepareConv(new RawTensor("k", DType.F32, new long[] {16, 8, 3, 3}, data));
                    Tensor x = backend.fromFloats(random(2 * 9 * 7 * 8, 7), 2, 9, 7, 8);
                    Tensor residual = backend.fromFloats(random(2 * 9 * 7 * 16, 8), 2, 9, 7, 16);
                    Tensor expected = backend.conv2d(x, w, null, 1, Padding.of(1));
                    Tensor actual = backend.conv2d(x, w, null, 1, Padding.of(1), residual)) {
                backend.addInPlace(expected, residual);
                assertArrayEquals(expected.toFloatArray(), actual.toFloatArray());
                assertThrows(IllegalArgumentException.class, () -> backend.conv2d(x, w, null, 2, Padding.of(1), residual));
            }
        }
    }
}
