package dev.jdiffusion.cpu;

import static dev.jdiffusion.cpu.KernelAsserts.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The few-output convolution against loops in double, on awkward shapes, strides, paddings and resizes. */
class NarrowConvKernelTest {
    private static final ValueLayout.OfFloat FLOATS = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final Random r = new Random(31);

    @Test
    void matchesDirectLoops() {
        int lanes = VectorKernels.preferredFloatLanes();
        int[][] cases = { // batch, height, width, channels (in vectors), out, kernel, stride, pad; then the resize, if any
                {1, 1, 1, 1, 1, 3, 1, 1}, {2, 5, 7, 1, 3, 3, 1, 1}, {1, 9, 6, 2, 4, 3, 1, 1}, {1, 8, 11, 3, 5, 3, 2, 1},
                {2, 6, 9, 1, 8, 3, 1, 0}, {1, 7, 5, 2, 2, 1, 1, 0}, {1, 4, 3, 1, 7, 3, 1, 1, 8, 6}, {1, 3, 13, 8, 3, 5, 1, 2},
                // pixels away from the edges, read in place
                {2, 6, 17, 2, 3, 3, 1, 1}, {1, 7, 23, 1, 4, 3, 2, 1}, {1, 5, 6, 1, 6, 3, 1, 1, 10, 12}};
        for (int threads = 1; threads <= 3; threads++) {
            try (Parallel parallel = new Parallel(threads)) {
                for (int[] c : cases) {
                    Convolution conv = new Convolution(c, lanes, r);
                    conv.check(conv.run(parallel), Arrays.toString(c) + " on " + threads + " threads");
                }
            }
        }
    }

    @Test
    void readsSixteenBitWeightsAsTheirWidenedValues() {
        int lanes = VectorKernels.preferredFloatLanes();
        try (Parallel parallel = new Parallel(2)) {
            for (DType dtype : new DType[] {DType.F16, DType.BF16}) {
                Convolution full = new Convolution(new int[] {1, 6, 7, 2, 3, 3, 1, 1}, lanes, r);
                MemorySegment bits = MemorySegment.ofArray(new byte[full.weight.length * 2]);
                for (int i = 0; i < full.weight.length; i++) {
                    short half = dtype == DType.F16 ? Float.floatToFloat16(full.weight[i])
                            : (short) (Float.floatToRawIntBits(full.weight[i]) >>> 16);
                    bits.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, half);
                    full.weight[i] = dtype == DType.F16 ? Float.float16ToFloat(half) : Float.intBitsToFloat(half << 16);
                }
                PackedMatrix halfWeight = PackedMatrix.ofConvolution(new RawTensor("w", dtype,
                        new long[] {full.out, full.channels, 3, 3}, bits), new AtomicLong());
                assertArrayEquals(full.run(parallel), full.run(parallel, halfWeight), dtype.toString());
            }
        }
    }

    @Test
    void takesFewOutputsOfWholeVectorsOfChannels() {
        int lanes = VectorKernels.preferredFloatLanes();
        assertTrue(NarrowConvKernel.applies(patches(8 * lanes, 3), 3), "the VAE's last convolution");
        assertTrue(NarrowConvKernel.applies(patches(20 * lanes, 3), NarrowConvKernel.MAX_OUTPUTS));
        assertFalse(NarrowConvKernel.applies(patches(8 * lanes, 3), NarrowConvKernel.MAX_OUTPUTS + 1), "many outputs");
        assertFalse(NarrowConvKernel.applies(patches(8 * lanes + 1, 3), 3), "a partial vector of channels");
        assertFalse(NarrowConvKernel.applies(patches(4, 3), 3), "the U-Net's first convolution");
    }

    private static ConvPatches patches(int channels, int kernel) {
        return new ConvPatches(MemorySegment.NULL, 16, 16, channels, kernel, kernel, 1, 1, 1, 16, 16, null, null, 16, 16);
    }

    /** A random convolution with a bias, of an input seen through a resize when the case gives one. */
    private static final class Convolution {
        final int batch, height, width, channels, out, kernel, stride, pad, sourceHeight, sourceWidth, outHeight, outWidth;
        final int[] sourceRows, sourceColumns;
        final float[] input, weight, bias;

        Convolution(int[] c, int lanes, Random r) {
            batch = c[0];
            sourceHeight = c[1];
            sourceWidth = c[2];
            channels = c[3] * lanes;
            out = c[4];
            kernel = c[5];
            stride = c[6];
            pad = c[7];
            height = c.length > 8 ? c[8] : sourceHeight;
            width = c.length > 8 ? c[9] : sourceWidth;
            sourceRows = c.length > 8 ? LayoutKernels.nearestSources(sourceHeight, height) : null;
            sourceColumns = c.length > 8 ? LayoutKernels.nearestSources(sourceWidth, width) : null;
            outHeight = (height + 2 * pad - kernel) / stride + 1;
            outWidth = (width + 2 * pad - kernel) / stride + 1;
            input = random(r, batch * sourceHeight * sourceWidth * channels, 1);
            weight = random(r, out * channels * kernel * kernel, 1);
            bias = random(r, out, 1);
        }

        float[] run(Parallel parallel) {
            return run(parallel, PackedMatrix.ofConvolution(ImageKernelsTest.raw("w", weight, out, channels, kernel, kernel),
                    new AtomicLong()));
        }

        float[] run(Parallel parallel, PackedMatrix packed) {
            try (Arena arena = Arena.ofShared()) {
                MemorySegment x = arena.allocate((long) input.length * Float.BYTES, 64);
                MemorySegment.copy(input, 0, x, FLOATS, 0, input.length);
                MemorySegment b = arena.allocate((long) out * Float.BYTES, 64);
                MemorySegment.copy(bias, 0, b, FLOATS, 0, out);
                float[] result = new float[batch * outHeight * outWidth * out];
                MemorySegment y = arena.allocate((long) result.length * Float.BYTES, 64);
                y.fill((byte) 0x7f); // NaN-free garbage: every element must be written
                ConvPatches patches = new ConvPatches(x, height, width, channels, kernel, kernel, stride, pad, pad,
                        outHeight, outWidth, sourceRows, sourceColumns, sourceHeight, sourceWidth);
                assertTrue(NarrowConvKernel.applies(patches, out));
                NarrowConvKernel.convolve(parallel, patches, batch, packed, b, y);
                MemorySegment.copy(y, FLOATS, 0, result, 0, result.length);
                return result;
            }
        }

        /**
         * Every output within the rounding bound of its sum, which runs in lane-wise chains of
         * {@code taps x channels / lanes} products, then across the lanes, then adds the bias: one float rounding
         * per step, each at most the sum of the terms' sizes.
         */
        void check(float[] actual, String what) {
            int lanes = VectorKernels.preferredFloatLanes();
            int steps = kernel * kernel * channels / lanes + Integer.numberOfTrailingZeros(lanes) + 1;
            for (int b = 0; b < batch; b++) {
                for (int oy = 0; oy < outHeight; oy++) {
                    for (int ox = 0; ox < outWidth; ox++) {
                        for (int o = 0; o < out; o++) {
                            double sum = bias[o];
                            double scale = Math.abs(bias[o]);
                            for (int ky = 0; ky < kernel; ky++) {
                                for (int kx = 0; kx < kernel; kx++) {
                                    int iy = oy * stride + ky - pad;
                                    int ix = ox * stride + kx - pad;
                                    if (iy < 0 || iy >= height || ix < 0 || ix >= width) {
                                        continue;
                                    }
                                    int sy = sourceRows == null ? iy : sourceRows[iy];
                                    int sx = sourceColumns == null ? ix : sourceColumns[ix];
                                    for (int c = 0; c < channels; c++) {
                                        double p = (double) input[((b * sourceHeight + sy) * sourceWidth + sx) * channels + c]
                                                * weight[((o * channels + c) * kernel + ky) * kernel + kx];
                                        sum += p;
                                        scale += Math.abs(p);
                                    }
                                }
                            }
                            double got = actual[((b * outHeight + oy) * outWidth + ox) * out + o];
                            if (!(Math.abs(got - sum) <= steps * 0x1p-24 * scale)) {
                                fail(what + ": element (" + b + ", " + oy + ", " + ox + ", " + o + ") is " + got
                                        + ", expected " + sum);
                            }
                        }
                    }
                }
            }
        }
    }
}
