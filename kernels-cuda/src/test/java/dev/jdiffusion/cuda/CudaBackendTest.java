package dev.jdiffusion.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.BackendUnavailableException;
import dev.jdiffusion.tensor.Backends;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Padding;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every op of the CUDA backend against the CPU backend on the same random inputs, at the shapes Stable Diffusion
 * uses. With F32 weights the two differ only in the order of F32 sums: 1e-5 of the largest value here. With
 * 16-bit weights the GPU also rounds the activations entering a product to that type, as a model run in
 * {@code .half()} does: the CPU given the same rounded inputs agrees to the same 1e-5. Skipped where there is no GPU.
 */
class CudaBackendTest {
    private static final double F32_TOLERANCE = 1e-5;
    private static Arena arena;
    private static Backend gpu;
    private static CpuBackend cpu;

    @BeforeAll
    static void open() {
        try {
            gpu = Backends.open(Device.cuda(0), 1);
        } catch (BackendUnavailableException e) {
            Assumptions.abort("no usable GPU here: " + e.getMessage());
        }
        cpu = new CpuBackend();
        arena = Arena.ofShared();
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
            cpu.close();
            arena.close();
        }
    }

    private static float[] random(int n, long seed, double scale) {
        Random r = new Random(seed);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        }
        return values;
    }

    private static RawTensor raw(String name, float[] values, long... shape) {
        MemorySegment data = arena.allocate(ValueLayout.JAVA_FLOAT, values.length);
        MemorySegment.copy(values, 0, data, ValueLayout.JAVA_FLOAT, 0, values.length);
        return new RawTensor(name, DType.F32, shape, data);
    }

    private static float[] rounded(float[] values, DType type) {
        float[] r = new float[values.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = type.round(values[i]);
        }
        return r;
    }

    /** The op on both backends, from the same inputs; their results compared. */
    private static void assertSame(String what, double tolerance, float[][] inputs, int[][] shapes,
            Function<Backend, Function<Tensor[], Tensor>> op) {
        float[] expected = run(cpu, inputs, shapes, op.apply(cpu));
        float[] actual = run(gpu, inputs, shapes, op.apply(gpu));
        assertClose(expected, actual, tolerance, what);
    }

    private static float[] run(Backend backend, float[][] inputs, int[][] shapes, Function<Tensor[], Tensor> op) {
        Tensor[] tensors = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            tensors[i] = backend.fromFloats(inputs[i], shapes[i]);
        }
        try (Tensor y = op.apply(tensors)) {
            return y.toFloatArray();
        } finally {
            for (Tensor t : tensors) {
                t.close();
            }
        }
    }

    /** Each element within {@code tolerance} times the largest magnitude expected (at least 1). */
    static void assertClose(float[] expected, float[] actual, double relativeTolerance, String what) {
        assertEquals(expected.length, actual.length, what + ": element count");
        double largest = 1;
        for (float e : expected) {
            largest = Math.max(largest, Math.abs(e));
        }
        double tolerance = relativeTolerance * largest;
        double worst = 0;
        int worstAt = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            if (!(d <= worst)) {
                worst = d;
                worstAt = i;
            }
        }
        if (!(worst <= tolerance)) {
            fail(what + ": max |difference| " + worst + " at " + worstAt + " (CPU " + expected[worstAt] + ", GPU "
                    + actual[worstAt] + "), tolerance " + tolerance);
        }
    }

    @Test
    void linearWithF32WeightsMatchesTheCpu() {
        float[] w = random(640 * 320, 1, 0.1);
        float[] bias = random(640, 2, 1);
        try (LinearWeight onCpu = cpu.prepareLinear(raw("w", w, 640, 320), null);
                LinearWeight onGpu = gpu.prepareLinear(raw("w", w, 640, 320), null)) {
            assertSame("linear", F32_TOLERANCE, new float[][] {random(2 * 77 * 320, 3, 1), bias},
                    new int[][] {{2, 77, 320}, {640}},
                    b -> t -> b.linear(t[0], b == cpu ? onCpu : onGpu, t[1]));
        }
    }

    @Test
    void sixteenBitProductsRoundTheirInputsToTheWeightsType() {
        for (DType type : new DType[] {DType.F16, DType.BF16}) {
            try (Backend half = Backends.open(Device.cuda(0), 1)) {
                float[] w = random(320 * 1280, 4, 0.1);
                float[] x = random(4096 * 1280 / 4, 5, 1);
                float[] kernel = random(64 * 32 * 9, 6, 0.1);
                float[] image = random(2 * 24 * 16 * 32, 7, 1);
                try (LinearWeight onCpu = cpu.prepareLinear(raw("w", w, 320, 1280), type);
                        LinearWeight onGpu = half.prepareLinear(raw("w", w, 320, 1280), type);
                        ConvWeight convOnCpu = cpu.prepareConv(raw("k", kernel, 64, 32, 3, 3), type);
                        ConvWeight convOnGpu = half.prepareConv(raw("k", kernel, 64, 32, 3, 3), type)) {
                    // with and without a bias: cuBLASLt's epilogue adds it where there is one
                    for (float[] bias : new float[][] {null, random(320, 30, 1)}) {
                        float[][] in = bias == null ? new float[][] {rounded(x, type)} : new float[][] {rounded(x, type), bias};
                        int[][] shapes = {{1024, 1280}, {320}};
                        float[] expected = run(cpu, in, shapes, t -> cpu.linear(t[0], onCpu, bias == null ? null : t[1]));
                        in[0] = x;
                        float[] actual = run(half, in, shapes, t -> half.linear(t[0], onGpu, bias == null ? null : t[1]));
                        assertClose(expected, actual, F32_TOLERANCE, type + " linear" + (bias == null ? "" : " with a bias"));
                    }
                    float[] convBias = random(64, 31, 1);
                    float[] expected = run(cpu, new float[][] {rounded(image, type), convBias}, new int[][] {{2, 24, 16, 32}, {64}},
                            t -> cpu.conv2d(t[0], convOnCpu, t[1], 1, Padding.of(1)));
                    float[] actual = run(half, new float[][] {image, convBias}, new int[][] {{2, 24, 16, 32}, {64}},
                            t -> half.conv2d(t[0], convOnGpu, t[1], 1, Padding.of(1)));
                    assertClose(expected, actual, F32_TOLERANCE, type + " conv2d");
                }
            }
        }
    }

    /**
     * A residual added by the product (cuBLASLt's C operand), with and without a bias, F32 and F16 weights, a
     * linear layer and a convolution: as the CPU's product followed by the add.
     */
    @Test
    void productsAddTheirResidualAsTheCpuDoes() {
        float[] w = random(640 * 320, 35, 0.1);
        float[] kernel = random(64 * 32 * 9, 36, 0.1);
        float[] bias = random(640, 37, 1);
        float[] x = random(2 * 77 * 320, 38, 1);
        float[] image = random(2 * 24 * 16 * 32, 39, 1);
        float[] residual = random(2 * 77 * 640, 40, 1);
        float[] imageResidual = random(2 * 24 * 16 * 64, 41, 1);
        float[] convBias = random(64, 42, 1);
        for (DType type : new DType[] {DType.F32, DType.F16}) {
            try (Backend device = Backends.open(Device.cuda(0), 1);
                    LinearWeight onCpu = cpu.prepareLinear(raw("w", w, 640, 320), type);
                    LinearWeight onGpu = device.prepareLinear(raw("w", w, 640, 320), type);
                    ConvWeight convOnCpu = cpu.prepareConv(raw("k", kernel, 64, 32, 3, 3), type);
                    ConvWeight convOnGpu = device.prepareConv(raw("k", kernel, 64, 32, 3, 3), type)) {
                int[][] shapes = {{2, 77, 320}, {640}, {2, 77, 640}};
                for (boolean withBias : new boolean[] {true, false}) {
                    float[] expected = run(cpu, new float[][] {rounded(x, type), bias, residual}, shapes,
                            t -> cpu.linear(t[0], onCpu, withBias ? t[1] : null, t[2]));
                    float[] actual = run(device, new float[][] {x, bias, residual}, shapes,
                            t -> device.linear(t[0], onGpu, withBias ? t[1] : null, t[2]));
                    assertClose(expected, actual, F32_TOLERANCE, type + " linear + residual" + (withBias ? " + bias" : ""));
                }
                int[][] imageShapes = {{2, 24, 16, 32}, {64}, {2, 24, 16, 64}};
                float[] expected = run(cpu, new float[][] {rounded(image, type), convBias, imageResidual}, imageShapes,
                        t -> cpu.conv2d(t[0], convOnCpu, t[1], 1, Padding.of(1), t[2]));
                float[] actual = run(device, new float[][] {image, convBias, imageResidual}, imageShapes,
                        t -> device.conv2d(t[0], convOnGpu, t[1], 1, Padding.of(1), t[2]));
                assertClose(expected, actual, F32_TOLERANCE, type + " conv2d + bias + residual");
                try (Tensor input = device.fromFloats(x, 2, 77, 320); Tensor wrong = device.fromFloats(x, 2, 77, 320)) {
                    assertThrows(IllegalArgumentException.class, () -> device.linear(input, onGpu, null, wrong));
                }
            }
        }
    }

    @Test
    void convolutionsMatchTheCpu() {
        float[] k3 = random(64 * 32 * 9, 8, 0.1);
        float[] k1 = random(48 * 32, 9, 0.1);
        float[] bias = random(64, 10, 1);
        try (ConvWeight c3 = cpu.prepareConv(raw("k3", k3, 64, 32, 3, 3), null);
                ConvWeight g3 = gpu.prepareConv(raw("k3", k3, 64, 32, 3, 3), null);
                ConvWeight c1 = cpu.prepareConv(raw("k1", k1, 48, 32, 1, 1), null);
                ConvWeight g1 = gpu.prepareConv(raw("k1", k1, 48, 32, 1, 1), null)) {
            float[][] in = {random(2 * 24 * 18 * 32, 11, 1), bias};
            int[][] shapes = {{2, 24, 18, 32}, {64}};
            assertSame("conv2d 3x3", F32_TOLERANCE, in, shapes, b -> t -> b.conv2d(t[0], b == cpu ? c3 : g3, t[1], 1, Padding.of(1)));
            assertSame("conv2d 3x3 stride 2 (downsample padding)", F32_TOLERANCE, in, shapes,
                    b -> t -> b.conv2d(t[0], b == cpu ? c3 : g3, t[1], 2, new Padding(0, 1, 0, 1)));
            assertSame("conv2d 3x3, no padding", F32_TOLERANCE, in, shapes, b -> t -> b.conv2d(t[0], b == cpu ? c3 : g3, null, 1, Padding.of(0)));
            assertSame("conv2d 1x1", F32_TOLERANCE, in, shapes, b -> t -> b.conv2d(t[0], b == cpu ? c1 : g1, null, 1, Padding.of(0)));
            assertSame("upsample then conv2d", F32_TOLERANCE, in, shapes,
                    b -> t -> b.upsampleConv2d(t[0], 48, 36, b == cpu ? c3 : g3, t[1], Padding.of(1)));
            // four channels, as a latent has: patches gathered a channel at a time rather than eight
            float[] k4 = random(8 * 4 * 9, 28, 0.3);
            try (ConvWeight c4 = cpu.prepareConv(raw("k4", k4, 8, 4, 3, 3), null);
                    ConvWeight g4 = gpu.prepareConv(raw("k4", k4, 8, 4, 3, 3), null)) {
                assertSame("conv2d 3x3 of 4 channels", F32_TOLERANCE, new float[][] {random(2 * 9 * 7 * 4, 29, 1)},
                        new int[][] {{2, 9, 7, 4}}, b -> t -> b.conv2d(t[0], b == cpu ? c4 : g4, null, 1, Padding.of(1)));
            }
            WrongWeight wrong = new WrongWeight();
            try (Tensor x = gpu.fromFloats(in[0], shapes[0])) {
                assertThrows(IllegalArgumentException.class, () -> gpu.conv2d(x, wrong, null, 1, Padding.of(1)));
                assertThrows(IllegalArgumentException.class, () -> gpu.conv2d(x, c3, null, 1, Padding.of(1)),
                        "a weight of another backend");
            }
        }
    }

    @Test
    void attentionMatchesTheCpu() {
        int[][] cases = {{2, 256, 256, 4}, {2, 300, 77, 8}, {1, 77, 77, 12}};
        for (int[] c : cases) {
            int batch = c[0];
            int queries = c[1];
            int keys = c[2];
            int heads = c[3];
            int width = heads * 40;
            float[][] in = {random(batch * queries * width, 12, 1), random(batch * keys * width, 13, 1),
                    random(batch * keys * width, 14, 1)};
            int[][] shapes = {{batch, queries, width}, {batch, keys, width}, {batch, keys, width}};
            assertSame("attention " + Arrays.toString(c), F32_TOLERANCE, in, shapes,
                    b -> t -> b.attention(t[0], t[1], t[2], heads, 0.158f, false));
            if (queries == keys) {
                assertSame("causal attention " + Arrays.toString(c), F32_TOLERANCE, in, shapes,
                        b -> t -> b.attention(t[0], t[1], t[2], heads, 0.158f, true));
            }
        }
    }

    /**
     * Next to 16-bit weights, attention multiplies in their type: the CPU given the same rounded q, k and v agrees
     * but for the probabilities, which are rounded too before they weigh the values (2^-9 relative for BF16, 2^-12
     * for F16, of values below 1 here). Heads of up to 160 run fused (padded to a multiple of 16: 24 -> 32, 40 -> 48),
     * wider ones unfused; the cases cover key counts that are not a multiple of the fused kernel's tiles of 64, query
     * counts that are not a multiple of its blocks of 64, and causal masking over several tiles.
     */
    @Test
    void attentionBesideSixteenBitWeightsComputesInTheirType() {
        // batch, queries, keys, heads, head width, causal
        int[][] cases = {{2, 300, 77, 8, 40, 0}, {1, 77, 77, 12, 64, 1}, {2, 256, 256, 8, 80, 0}, {2, 64, 64, 8, 160, 0},
                {1, 130, 130, 5, 24, 1}, {1, 4096, 4096, 8, 40, 0}, {1, 100, 100, 1, 512, 0}};
        for (DType type : new DType[] {DType.F16, DType.BF16}) {
            try (Backend half = Backends.open(Device.cuda(0), 1);
                    LinearWeight w = half.prepareLinear(raw("w", new float[64], 8, 8), type)) {
                for (int[] c : cases) {
                    int heads = c[3];
                    int width = heads * c[4];
                    boolean causal = c[5] == 1;
                    float[] q = random(c[0] * c[1] * width, 25, 1);
                    float[] k = random(c[0] * c[2] * width, 26, 1);
                    float[] v = random(c[0] * c[2] * width, 27, 1);
                    int[][] shapes = {{c[0], c[1], width}, {c[0], c[2], width}, {c[0], c[2], width}};
                    float[] expected = run(cpu, new float[][] {rounded(q, type), rounded(k, type), rounded(v, type)},
                            shapes, t -> cpu.attention(t[0], t[1], t[2], heads, 0.158f, causal));
                    float[] actual = run(half, new float[][] {q, k, v}, shapes,
                            t -> half.attention(t[0], t[1], t[2], heads, 0.158f, causal));
                    assertClose(expected, actual, type == DType.F16 ? 5e-4 : 4e-3, type + " attention " + Arrays.toString(c));
                }
            }
        }
    }

    /** 4096 tokens of 8 heads give 512 MiB of scores: computed in chunks of queries, with the same result. */
    @Test
    void longAttentionIsComputedInChunksOfQueries() {
        int tokens = 4096;
        int width = 8 * 40;
        float[][] in = {random(tokens * width, 15, 1), random(tokens * width, 16, 1), random(tokens * width, 17, 1)};
        int[][] shapes = {{1, tokens, width}, {1, tokens, width}, {1, tokens, width}};
        assertSame("attention over 4096 tokens", F32_TOLERANCE, in, shapes, b -> t -> b.attention(t[0], t[1], t[2], 8,
                0.158f, false));
    }

    @Test
    void normsAndRowOpsMatchTheCpu() {
        float[] x = random(2 * 16 * 12 * 64, 18, 2);
        int[] image = {2, 16, 12, 64};
        float[] gamma = random(64, 19, 1);
        float[] beta = random(64, 20, 1);
        float[][] in = {x, gamma, beta};
        int[][] shapes = {image, {64}, {64}};
        assertSame("groupNorm", F32_TOLERANCE, in, shapes, b -> t -> b.groupNorm(t[0], 8, t[1], t[2], 1e-5f, false));
        assertSame("groupNorm + SiLU", F32_TOLERANCE, in, shapes, b -> t -> b.groupNorm(t[0], 32, t[1], t[2], 1e-6f, true));
        assertSame("layerNorm", F32_TOLERANCE, in, shapes, b -> t -> b.layerNorm(t[0], t[1], t[2], 1e-5f));
        // six channels: not a multiple of four, so the apply pass takes a channel at a time
        float[][] narrow = {random(2 * 5 * 3 * 6, 32, 2), random(6, 33, 1), random(6, 34, 1)};
        assertSame("groupNorm of 6 channels", F32_TOLERANCE, narrow, new int[][] {{2, 5, 3, 6}, {6}, {6}},
                b -> t -> b.groupNorm(t[0], 3, t[1], t[2], 1e-5f, true));
        assertSame("softmax", F32_TOLERANCE, in, shapes, b -> t -> b.softmax(t[0]));
        for (Activation a : Activation.values()) {
            assertSame(a.configName(), F32_TOLERANCE, in, shapes, b -> t -> b.activation(t[0], a));
        }
        assertSame("scale", 0, in, shapes, b -> t -> b.scale(t[0], 0.18215f));
        assertSame("geglu", F32_TOLERANCE, in, shapes, b -> t -> b.geglu(t[0]));
    }

    @Test
    void layoutOpsMatchTheCpu() {
        float[] x = random(2 * 9 * 7 * 24, 21, 1);
        float[] y = random(2 * 9 * 7 * 16, 22, 1);
        float[] perItem = random(2 * 24, 23, 1);
        float[][] in = {x, y, perItem, x};
        int[][] shapes = {{2, 9, 7, 24}, {2, 9, 7, 16}, {2, 24}, {2, 9, 7, 24}};
        assertSame("add", 0, in, shapes, b -> t -> b.add(t[0], t[3]));
        assertSame("addInPlace", 0, in, shapes, b -> t -> {
            b.addInPlace(t[3], t[0]);
            return b.copy(t[3]);
        });
        assertSame("addPerItem", 0, in, shapes, b -> t -> {
            b.addPerItem(t[0], t[2]);
            return b.copy(t[0]);
        });
        assertSame("concat", 0, in, shapes, b -> t -> b.concat(t[0], t[1]));
        assertSame("repeatBatch", 0, in, shapes, b -> t -> b.repeatBatch(t[0], 3));
        assertSame("narrowLast", 0, in, shapes, b -> t -> b.narrowLast(t[0], 5, 11));
        assertSame("upsampleNearest x2", 0, in, shapes, b -> t -> b.upsampleNearest(t[0], 18, 14));
        assertSame("upsampleNearest to odd sizes", 0, in, shapes, b -> t -> b.upsampleNearest(t[0], 13, 5));
        assertSame("transpose", 0, in, shapes, b -> t -> b.transpose(t[0].reshape(2, 63, 24)));
        assertSame("gatherRows", 0, in, shapes, b -> t -> b.gatherRows(t[0].reshape(126, 24), new int[] {5, 0, 125, 5}));
        try (Tensor table = gpu.fromFloats(x, 126, 24)) {
            assertThrows(IndexOutOfBoundsException.class, () -> gpu.gatherRows(table, new int[] {126}));
        }
    }

    @Test
    void storedSixteenBitTensorsAreWidenedOnTheWay() {
        float[] values = rounded(random(1000, 24, 3), DType.F16);
        MemorySegment data = arena.allocate(ValueLayout.JAVA_SHORT, values.length);
        for (int i = 0; i < values.length; i++) {
            data.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(values[i]));
        }
        try (Tensor t = gpu.fromRaw(new RawTensor("h", DType.F16, new long[] {10, 100}, data))) {
            assertEquals(Arrays.toString(new int[] {10, 100}), Arrays.toString(t.shape()));
            assertClose(values, t.toFloatArray(), 0, "F16 tensor read back");
        }
    }

    /** A weight no backend prepared. */
    private static final class WrongWeight implements ConvWeight {
        @Override
        public int inChannels() {
            return 32;
        }

        @Override
        public int kernelHeight() {
            return 3;
        }

        @Override
        public int kernelWidth() {
            return 3;
        }

        @Override
        public int inFeatures() {
            return 288;
        }

        @Override
        public int outFeatures() {
            return 64;
        }

        @Override
        public void close() {
        }
    }
}
