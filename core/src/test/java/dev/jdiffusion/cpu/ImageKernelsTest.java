package dev.jdiffusion.cpu;

import static dev.jdiffusion.cpu.KernelAsserts.assertClose;
import static dev.jdiffusion.cpu.KernelAsserts.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.Padding;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The channels-last image kernels against plain loops, on awkward sizes. */
class ImageKernelsTest {
    /** The kernels under test; a subclass runs every case on the scalar fallback. */
    CpuKernels kernels() {
        return KernelChoice.kernels();
    }

    private CpuBackend backend;
    private final Random r = new Random(9);

    @BeforeEach
    void start() {
        backend = new CpuBackend(3, kernels());
    }

    @AfterEach
    void stop() {
        backend.close();
    }

    static RawTensor raw(String name, float[] values, long... shape) {
        MemorySegment bytes = MemorySegment.ofArray(new byte[values.length * 4]);
        MemorySegment.copy(values, 0, bytes, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, values.length);
        return new RawTensor(name, DType.F32, shape, bytes);
    }

    @Test
    void convolutionMatchesDirectLoops() {
        int[][] cases = { // batch, height, width, in, out, kernel, stride, top, bottom, left, right
                {1, 5, 5, 1, 1, 3, 1, 1, 1, 1, 1}, {2, 7, 5, 3, 17, 3, 1, 1, 1, 1, 1}, {1, 8, 6, 5, 33, 3, 2, 1, 1, 1, 1},
                {1, 9, 7, 4, 6, 3, 2, 0, 1, 0, 1}, {2, 4, 3, 13, 7, 1, 1, 0, 0, 0, 0}, {1, 6, 6, 2, 3, 1, 2, 0, 0, 0, 0},
                {1, 3, 11, 37, 5, 3, 1, 1, 1, 1, 1}, {1, 1, 1, 300, 2, 3, 1, 1, 1, 1, 1}};
        for (int[] c : cases) {
            int batch = c[0], h = c[1], w = c[2], in = c[3], out = c[4], k = c[5], stride = c[6];
            Padding pad = new Padding(c[7], c[8], c[9], c[10]);
            float[] x = random(r, batch * h * w * in, 1);
            float[] weight = random(r, out * in * k * k, 1);
            float[] bias = random(r, out, 1);
            int oh = (h + pad.top() + pad.bottom() - k) / stride + 1;
            int ow = (w + pad.left() + pad.right() - k) / stride + 1;
            double[] expected = new double[batch * oh * ow * out];
            double[] magnitude = new double[expected.length];
            for (int b = 0; b < batch; b++) {
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        for (int o = 0; o < out; o++) {
                            double s = bias[o];
                            double m = Math.abs(bias[o]);
                            for (int ci = 0; ci < in; ci++) {
                                for (int ky = 0; ky < k; ky++) {
                                    for (int kx = 0; kx < k; kx++) {
                                        int iy = oy * stride + ky - pad.top();
                                        int ix = ox * stride + kx - pad.left();
                                        if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                                            double p = (double) x[((b * h + iy) * w + ix) * in + ci]
                                                    * weight[((o * in + ci) * k + ky) * k + kx];
                                            s += p;
                                            m += Math.abs(p);
                                        }
                                    }
                                }
                            }
                            int at = ((b * oh + oy) * ow + ox) * out + o;
                            expected[at] = s;
                            magnitude[at] = m;
                        }
                    }
                }
            }
            try (ConvWeight cw = backend.prepareConv(raw("w", weight, out, in, k, k));
                    Tensor tx = backend.fromFloats(x, batch, h, w, in); Tensor tb = backend.fromFloats(bias, out);
                    Tensor y = backend.conv2d(tx, cw, tb, stride, pad)) {
                assertArrayEquals(new int[] {batch, oh, ow, out}, y.shape());
                float[] actual = y.toFloatArray();
                for (int i = 0; i < actual.length; i++) {
                    if (!(Math.abs(actual[i] - expected[i]) <= 2e-7 * (in * k * k + 2) * magnitude[i])) {
                        fail("conv case " + java.util.Arrays.toString(c) + " element " + i + ": expected " + expected[i]
                                + " got " + actual[i]);
                    }
                }
            }
        }
    }

    @Test
    void anUpsamplingConvolutionEqualsTheConvolutionOfTheUpsampledInput() {
        int[][] cases = {{2, 3, 4, 5, 6, 8}, {1, 5, 3, 7, 9, 11}, {1, 4, 4, 33, 8, 8}}; // batch, h, w, channels, to h, to w
        for (int[] c : cases) {
            float[] x = random(r, c[0] * c[1] * c[2] * c[3], 1);
            try (ConvWeight cw = backend.prepareConv(raw("w", random(r, 5 * c[3] * 9, 1), 5, c[3], 3, 3));
                    Tensor bias = backend.fromFloats(random(r, 5, 1), 5);
                    Tensor tx = backend.fromFloats(x, c[0], c[1], c[2], c[3]);
                    Tensor resized = backend.upsampleNearest(tx, c[4], c[5]);
                    Tensor expected = backend.conv2d(resized, cw, bias, 1, Padding.of(1));
                    Tensor fused = backend.upsampleConv2d(tx, c[4], c[5], cw, bias, Padding.of(1))) {
                assertArrayEquals(expected.shape(), fused.shape());
                assertArrayEquals(backend.toFloatArray(expected), backend.toFloatArray(fused), java.util.Arrays.toString(c));
            }
        }
    }

    @Test
    void sixteenBitConvolutionWeightsGiveExactlyTheProductOfTheirWidenedValuesHoweverStored() {
        int out = 37;
        int in = 19;
        float[] x = random(r, 2 * 6 * 5 * in, 1);
        for (DType dtype : new DType[] {DType.F16, DType.BF16}) {
            MemorySegment bytes = MemorySegment.ofArray(new byte[out * in * 9 * 2]);
            float[] widened = new float[out * in * 9];
            float[] unrounded = new float[out * in * 9];
            for (int i = 0; i < widened.length; i++) {
                float value = (float) r.nextGaussian();
                unrounded[i] = value;
                short bits = dtype == DType.F16 ? Float.floatToFloat16(value) : DType.bfloat16Bits(value);
                bytes.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, bits);
                widened[i] = dtype == DType.F16 ? Float.float16ToFloat(bits) : Float.intBitsToFloat(bits << 16);
            }
            try (ConvWeight half = backend.prepareConv(new RawTensor("w", dtype, new long[] {out, in, 3, 3}, bytes));
                    ConvWeight full = backend.prepareConv(raw("w", widened, out, in, 3, 3));
                    Tensor tx = backend.fromFloats(x, 2, 6, 5, in);
                    Tensor expected = backend.conv2d(tx, full, null, 1, Padding.of(1));
                    Tensor actual = backend.conv2d(tx, half, null, 1, Padding.of(1))) {
                assertArrayEquals(backend.toFloatArray(expected), backend.toFloatArray(actual), dtype.toString());
                half.unload();
                try (Tensor again = backend.conv2d(tx, half, null, 1, Padding.of(1))) {
                    assertArrayEquals(backend.toFloatArray(expected), backend.toFloatArray(again), dtype + " after an unload");
                }
                // the same weights stored wider and held narrower, or stored narrower and held as F32
                try (ConvWeight narrowed = backend.prepareConv(raw("w", unrounded, out, in, 3, 3), dtype);
                        ConvWeight heldAsF32 = backend.prepareConv(new RawTensor("w", dtype, new long[] {out, in, 3, 3},
                                bytes), DType.F32);
                        Tensor fromNarrowed = backend.conv2d(tx, narrowed, null, 1, Padding.of(1));
                        Tensor fromWidened = backend.conv2d(tx, heldAsF32, null, 1, Padding.of(1))) {
                    assertArrayEquals(backend.toFloatArray(expected), backend.toFloatArray(fromNarrowed),
                            "F32 held as " + dtype);
                    assertArrayEquals(backend.toFloatArray(expected), backend.toFloatArray(fromWidened), dtype + " held as F32");
                }
            }
        }
    }

    @Test
    void convolutionRefusesTheWrongChannelCount() {
        try (ConvWeight cw = backend.prepareConv(raw("w", new float[2 * 3 * 9], 2, 3, 3, 3));
                Tensor x = backend.fromFloats(new float[4 * 4 * 4], 1, 4, 4, 4)) {
            assertThrows(IllegalArgumentException.class, () -> backend.conv2d(x, cw, null, 1, Padding.of(1)));
        }
    }

    @Test
    void groupNormMatchesDefinition() {
        // channel counts under a vector, of whole vectors, and of blocks of four vectors and a part (72 with 16-float
        // vectors): every path of the kernel
        int[][] cases = {{1, 1, 4, 2}, {2, 35, 12, 3}, {1, 64, 32, 8}, {2, 9, 40, 4}, {1, 1000, 6, 1}, {3, 17, 18, 6},
            {2, 33, 72, 8}};
        for (int[] c : cases) {
            float[] x = random(r, c[0] * c[1] * c[2], 2);
            for (int i = 0; i < x.length; i++) {
                x[i] += 3; // an offset that a one-pass variance would lose
            }
            assertGroupNormMatchesDefinition(x, c[0], c[1], c[2], c[3]);
        }
    }

    @Test
    void groupNormStatisticsAddUpOverManyPixels() {
        // enough pixels that the statistics are gathered range by range (each a few hundred pixels) and
        // combined; values off zero that drift along the pixels, so that each range has its own mean
        int[][] cases = {{1, 3000, 64, 8}, {2, 2100, 128, 32}, {1, 777, 512, 32}};
        for (int[] c : cases) {
            int positions = c[1], channels = c[2];
            float[] x = random(r, c[0] * positions * channels, 1);
            for (int i = 0; i < x.length; i++) {
                x[i] += 3 + 4f * (i / channels % positions) / positions;
            }
            assertGroupNormMatchesDefinition(x, c[0], positions, channels, c[3]);
        }
    }

    private void assertGroupNormMatchesDefinition(float[] x, int batch, int positions, int channels, int groups) {
        float[] gamma = random(r, channels, 1);
        float[] beta = random(r, channels, 1);
        for (boolean silu : new boolean[] {false, true}) {
            double[] expected = new double[x.length];
            int per = channels / groups;
            for (int b = 0; b < batch; b++) {
                for (int g = 0; g < groups; g++) {
                    double mean = 0;
                    for (int p = 0; p < positions; p++) {
                        for (int ch = g * per; ch < (g + 1) * per; ch++) {
                            mean += x[(b * positions + p) * channels + ch];
                        }
                    }
                    mean /= (double) positions * per;
                    double var = 0;
                    for (int p = 0; p < positions; p++) {
                        for (int ch = g * per; ch < (g + 1) * per; ch++) {
                            double d = x[(b * positions + p) * channels + ch] - mean;
                            var += d * d;
                        }
                    }
                    var /= (double) positions * per;
                    for (int p = 0; p < positions; p++) {
                        for (int ch = g * per; ch < (g + 1) * per; ch++) {
                            int at = (b * positions + p) * channels + ch;
                            double y = (x[at] - mean) / Math.sqrt(var + 1e-5) * gamma[ch] + beta[ch];
                            expected[at] = silu ? ScalarReference.silu(y) : y;
                        }
                    }
                }
            }
            try (Tensor tx = backend.fromFloats(x, batch, positions, channels);
                    Tensor tg = backend.fromFloats(gamma, channels);
                    Tensor tb = backend.fromFloats(beta, channels);
                    Tensor y = backend.groupNorm(tx, groups, tg, tb, 1e-5f, silu)) {
                String what = "groupNorm " + batch + "x" + positions + "x" + channels + " in " + groups
                        + " groups, silu=" + silu;
                assertClose(expected, y.toFloatArray(), 5e-6, 5e-6, what);
            }
        }
    }

    @Test
    void nearestUpsamplingPicksTorchsSourcePixels() {
        int[][] sizes = {{2, 3, 4, 6}, {5, 4, 9, 7}, {9, 7, 18, 14}, {1, 1, 3, 2}, {4, 4, 4, 4}};
        for (int[] s : sizes) {
            int h = s[0], w = s[1], oh = s[2], ow = s[3], channels = 3;
            float[] x = random(r, 2 * h * w * channels, 1);
            double[] expected = new double[2 * oh * ow * channels];
            for (int b = 0; b < 2; b++) {
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        int sy = Math.min((int) Math.floor(oy * ((float) h / oh)), h - 1);
                        int sx = Math.min((int) Math.floor(ox * ((float) w / ow)), w - 1);
                        for (int c = 0; c < channels; c++) {
                            expected[((b * oh + oy) * ow + ox) * channels + c] = x[((b * h + sy) * w + sx) * channels + c];
                        }
                    }
                }
            }
            try (Tensor tx = backend.fromFloats(x, 2, h, w, channels); Tensor y = backend.upsampleNearest(tx, oh, ow)) {
                assertClose(expected, y.toFloatArray(), 0, 0, "upsample " + java.util.Arrays.toString(s));
            }
        }
        // 5 -> 9 rows as torch maps them: floor(dst * 5/9)
        try (Tensor tx = backend.fromFloats(new float[] {0, 1, 2, 3, 4}, 1, 5, 1, 1); Tensor y = backend.upsampleNearest(tx, 9, 1)) {
            assertArrayEquals(new float[] {0, 0, 1, 1, 2, 2, 3, 3, 4}, y.toFloatArray());
        }
    }

    @Test
    void concatTransposeAddPerItemGegluAndScale() {
        float[] a = random(r, 2 * 3 * 5, 1);
        float[] b = random(r, 2 * 3 * 7, 1);
        try (Tensor ta = backend.fromFloats(a, 2, 3, 5); Tensor tb = backend.fromFloats(b, 2, 3, 7); Tensor y = backend.concat(ta, tb)) {
            float[] out = y.toFloatArray();
            for (int row = 0; row < 6; row++) {
                for (int c = 0; c < 12; c++) {
                    float want = c < 5 ? a[row * 5 + c] : b[row * 7 + c - 5];
                    if (out[row * 12 + c] != want) {
                        fail("concat row " + row + " column " + c);
                    }
                }
            }
        }
        try (Tensor ta = backend.fromFloats(a, 2, 3, 5); Tensor t = backend.transpose(ta); Tensor back = backend.transpose(t)) {
            assertArrayEquals(new int[] {2, 5, 3}, t.shape());
            assertArrayEquals(a, back.toFloatArray());
            assertArrayEquals(new float[] {a[0], a[5], a[10]}, java.util.Arrays.copyOf(t.toFloatArray(), 3));
        }
        float[] v = random(r, 2 * 5, 1);
        try (Tensor ta = backend.fromFloats(a, 2, 3, 5); Tensor tv = backend.fromFloats(v, 2, 5)) {
            backend.addPerItem(ta, tv);
            float[] out = ta.toFloatArray();
            for (int i = 0; i < out.length; i++) {
                if (out[i] != a[i] + v[(i / 15) * 5 + i % 5]) {
                    fail("addPerItem element " + i);
                }
            }
        }
        float[] g = random(r, 3 * 34, 2);
        double[] expected = new double[3 * 17];
        for (int row = 0; row < 3; row++) {
            for (int c = 0; c < 17; c++) {
                expected[row * 17 + c] = g[row * 34 + c] * ScalarReference.gelu(g[row * 34 + 17 + c]);
            }
        }
        try (Tensor tg = backend.fromFloats(g, 3, 34); Tensor y = backend.geglu(tg); Tensor s = backend.scale(tg, 0.5f)) {
            assertClose(expected, y.toFloatArray(), 2e-6, 1e-6, "geglu");
            float[] half = s.toFloatArray();
            for (int i = 0; i < half.length; i++) {
                if (half[i] != g[i] * 0.5f) {
                    fail("scale element " + i);
                }
            }
        }
    }

    @Test
    void repeatingABatchCopiesEveryItemInOrder() {
        float[] a = random(r, 2 * 3 * 5, 1);
        try (Tensor ta = backend.fromFloats(a, 2, 3, 5); Tensor y = backend.repeatBatch(ta, 3)) {
            assertArrayEquals(new int[] {6, 3, 5}, y.shape());
            float[] out = y.toFloatArray();
            for (int i = 0; i < out.length; i++) {
                if (out[i] != a[i % a.length]) {
                    fail("repeatBatch element " + i);
                }
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend.repeatBatch(ta, 0));
            assertTrue(e.getMessage().contains("0 times"), e.getMessage());
        }
    }
}
