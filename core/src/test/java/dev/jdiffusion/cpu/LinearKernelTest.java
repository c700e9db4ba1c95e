package dev.jdiffusion.cpu;

import static dev.jdiffusion.cpu.KernelAsserts.AWKWARD;
import static dev.jdiffusion.cpu.KernelAsserts.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class LinearKernelTest {
    /** The kernels under test; a subclass runs every case on the scalar fallback. */
    CpuKernels kernels() {
        return KernelChoice.kernels();
    }


    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 3})
    void matchesScalarReferenceOnAwkwardShapes(int threads) {
        Random r = new Random(threads);
        try (CpuBackend backend = new CpuBackend(threads, kernels())) {
            for (int m : new int[] {1, 5, 6, 7, 97, 200}) {
                for (int k : AWKWARD) {
                    for (int n : AWKWARD) {
                        check(backend, r, m, k, n, (m + k + n) % 2 == 0);
                    }
                }
            }
            // K longer than one K block, M over one row tile, N over several panels.
            check(backend, r, 131, 700, 77, true);
            check(backend, r, 7, 513, 300, false);
        }
    }

    @Test
    void productsGiveTheSameBitsOnAnyThreadCount() {
        // One thread takes all 131 rows and every panel in one tile; three share the panels out in runs.
        int m = 131;
        int k = 700;
        int n = 2600;
        Random r = new Random(11);
        float[] a = random(r, m * k, 1);
        float[] w = random(r, n * k, 1);
        float[] bias = random(r, n, 1);
        float[][] results = new float[2][];
        int[] threadCounts = {1, 3};
        for (int i = 0; i < 2; i++) {
            try (CpuBackend backend = new CpuBackend(threadCounts[i], kernels());
                    LinearWeight weight = backend.prepareLinear(w, n, k);
                    Tensor x = backend.fromFloats(a, m, k);
                    Tensor b = backend.fromFloats(bias, n);
                    Tensor y = backend.linear(x, weight, b)) {
                results[i] = y.toFloatArray();
            }
        }
        assertArrayEquals(results[1], results[0]);
        assertMatchesReference(a, w, bias, m, k, n, results[0]);
    }

    private static void check(CpuBackend backend, Random r, int m, int k, int n, boolean withBias) {
        float[] a = random(r, m * k, 1);
        float[] w = random(r, n * k, 1);
        float[] bias = withBias ? random(r, n, 1) : null;
        try (LinearWeight weight = backend.prepareLinear(w, n, k);
                Tensor x = backend.fromFloats(a, m, k);
                Tensor b = bias == null ? null : backend.fromFloats(bias, n);
                Tensor y = backend.linear(x, weight, b)) {
            assertEquals(m, y.dim(0));
            assertEquals(n, y.dim(1));
            assertMatchesReference(a, w, bias, m, k, n, y.toFloatArray());
        }
    }

    private static void assertMatchesReference(float[] a, float[] w, float[] bias, int m, int k, int n, float[] actual) {
        double[] expected = ScalarReference.linear(a, w, bias, m, k, n);
        double[] magnitude = ScalarReference.linearMagnitude(a, w, bias, m, k, n);
        for (int i = 0; i < actual.length; i++) {
            // float accumulation of k products: error bounded by ~k ulps of the sum of magnitudes
            double tolerance = 2e-7 * (k + 2) * magnitude[i] + 1e-30;
            if (!(Math.abs(expected[i] - actual[i]) <= tolerance)) {
                fail("m=" + m + " k=" + k + " n=" + n + " element " + i + ": expected " + expected[i] + " got " + actual[i]);
            }
        }
    }

    @Test
    void sixteenBitWeightsAreWidenedWhenPacked() {
        Random r = new Random(3);
        int m = 9;
        int k = 37;
        int n = 21;
        float[] a = random(r, m * k, 1);
        try (CpuBackend backend = new CpuBackend(2, kernels()); Arena arena = Arena.ofConfined()) {
            for (DType dtype : new DType[] {DType.F16, DType.BF16}) {
                MemorySegment bytes = arena.allocate((long) n * k * 2);
                float[] w = new float[n * k];
                for (int i = 0; i < w.length; i++) {
                    short bits = dtype == DType.F16
                            ? Float.floatToFloat16((float) r.nextGaussian())
                            : (short) (Float.floatToRawIntBits((float) r.nextGaussian()) >>> 16);
                    bytes.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), i, bits);
                    w[i] = dtype == DType.F16 ? Float.float16ToFloat(bits) : Float.intBitsToFloat(bits << 16);
                }
                RawTensor raw = new RawTensor("w", dtype, new long[] {n, k}, bytes);
                double[] expected = ScalarReference.linear(a, w, null, m, k, n);
                try (LinearWeight weight = backend.prepareLinear(raw); Tensor x = backend.fromFloats(a, m, k);
                        Tensor y = backend.linear(x, weight, null)) {
                    KernelAsserts.assertClose(expected, y.toFloatArray(), 1e-4, 1e-5, dtype.toString());
                }
            }
        }
    }

    @Test
    void weightsHeldInAnotherTypeThanStoredGiveTheProductsOfThatType() {
        Random r = new Random(5);
        int m = 13;
        int k = 45;
        int n = 70;
        float[] a = random(r, m * k, 1);
        float[] w = random(r, n * k, 1);
        ValueLayout.OfShort shorts = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        try (CpuBackend backend = new CpuBackend(2, kernels()); Arena arena = Arena.ofShared();
                Tensor x = backend.fromFloats(a, m, k)) {
            MemorySegment floats = arena.allocate((long) n * k * Float.BYTES);
            MemorySegment.copy(w, 0, floats, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, w.length);
            RawTensor storedF32 = new RawTensor("w", DType.F32, new long[] {n, k}, floats);
            for (DType type : new DType[] {DType.F16, DType.BF16}) {
                MemorySegment halves = arena.allocate((long) n * k * 2);
                for (int i = 0; i < w.length; i++) {
                    halves.setAtIndex(shorts, i, type == DType.F16 ? Float.floatToFloat16(w[i]) : DType.bfloat16Bits(w[i]));
                }
                RawTensor stored16 = new RawTensor("w", type, new long[] {n, k}, halves);
                Product asStored = product(backend, backend.prepareLinear(stored16), x);
                Product narrowed = product(backend, backend.prepareLinear(storedF32, type), x);
                Product widened = product(backend, backend.prepareLinear(stored16, DType.F32), x);
                assertArrayEquals(asStored.values, narrowed.values, "F32 weights held as " + type + " are rounded to it");
                assertEquals(asStored.packedBytes, narrowed.packedBytes, "held in 16 bits");
                assertArrayEquals(asStored.values, widened.values, type + " weights held as F32 are widened exactly");
                assertEquals(2 * asStored.packedBytes, widened.packedBytes, "held in 32 bits");
            }
            assertThrows(IllegalArgumentException.class, () -> backend.prepareLinear(storedF32, DType.I8));
        }
    }

    /** A product's values, and the bytes of packed weights the backend held while it ran. */
    private record Product(float[] values, long packedBytes) {}

    /** {@code x W^T} with the weight prepared by the caller, which this closes. */
    private static Product product(CpuBackend backend, LinearWeight weight, Tensor x) {
        try (weight; Tensor y = backend.linear(x, weight, null)) {
            return new Product(y.toFloatArray(), backend.packedWeightBytes());
        }
    }

    @Test
    void weightsInMemoryConfinedToTheCallerArePackedOnItsThread() {
        Random r = new Random(7);
        int m = 7;
        int k = 19;
        int n = 3 * GemmLayout.NR + 5; // several panels, which the helpers would otherwise pack
        float[] a = random(r, m * k, 1);
        float[] w = random(r, n * k, 1);
        try (CpuBackend backend = new CpuBackend(3, kernels()); Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate((long) n * k * Float.BYTES);
            MemorySegment.copy(w, 0, bytes, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, w.length);
            RawTensor raw = new RawTensor("w", DType.F32, new long[] {n, k}, bytes);
            try (LinearWeight weight = backend.prepareLinear(raw); Tensor x = backend.fromFloats(a, m, k);
                    Tensor y = backend.linear(x, weight, null)) {
                assertMatchesReference(a, w, null, m, k, n, y.toFloatArray());
            }
        }
    }

    @Test
    void weightsArePackedOnFirstUseAndAgainAfterAnUnload() {
        Random r = new Random(5);
        int m = 13;
        int k = 300;
        int n = 70;
        try (CpuBackend backend = new CpuBackend(2, kernels()); LinearWeight weight = backend.prepareLinear(random(r, n * k, 1), n, k);
                Tensor x = backend.fromFloats(random(r, m * k, 1), m, k)) {
            assertEquals(0, backend.packedWeightBytes(), "nothing is packed before the first product");
            float[] first;
            try (Tensor y = backend.linear(x, weight, null)) {
                first = y.toFloatArray();
            }
            long panels = (n + GemmLayout.NR - 1) / GemmLayout.NR;
            assertEquals(panels * k * GemmLayout.NR * Float.BYTES, backend.packedWeightBytes());
            weight.unload();
            assertEquals(0, backend.packedWeightBytes(), "unloading frees the panels");
            try (Tensor y = backend.linear(x, weight, null)) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(first, y.toFloatArray(), "packed again from the stored weight");
            }
            weight.close();
            assertEquals(0, backend.packedWeightBytes(), "closing frees the panels");
        }
    }

    @Test
    void batchedInputKeepsLeadingDimensions() {
        try (CpuBackend backend = new CpuBackend(2, kernels()); LinearWeight w = backend.prepareLinear(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
                Tensor x = backend.fromFloats(new float[] {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}, 2, 2, 3);
                Tensor y = backend.linear(x, w, null)) {
            assertEquals(java.util.List.of(2, 2, 2), java.util.Arrays.stream(y.shape()).boxed().toList());
            org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6, 6, 15}, y.toFloatArray());
        }
    }

    @Test
    void wrongInputWidthIsRefused() {
        try (CpuBackend backend = new CpuBackend(1, kernels()); LinearWeight w = backend.prepareLinear(new float[6], 2, 3);
                Tensor x = backend.fromFloats(new float[4], 1, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend.linear(x, w, null));
            assertTrue(e.getMessage().contains("expects 3"), e.getMessage());
        }
    }
}
