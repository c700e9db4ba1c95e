package dev.jdiffusion.cpu;

import static dev.jdiffusion.cpu.KernelAsserts.random;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A random channels-last convolution with a bias, of an input seen through a nearest-neighbour resize where its
 * size differs from the source's, and its outputs computed in double: what the convolution kernels are tested
 * against.
 */
class ConvolutionReference {
    private static final ValueLayout.OfFloat FLOATS = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Awkward cases for the kernels of 3x3, stride-1, padding-1 convolutions: batch, height, width, channels in and
     * out (in vectors), then the height and width the input is resized to, if any. A single pixel, sizes that
     * leave part tiles at the edges, a resized input, and many channels.
     */
    static final int[][] AWKWARD_SAME_SIZE_CASES = {
            {1, 1, 1, 1, 1}, {1, 5, 7, 1, 3}, {2, 6, 4, 2, 2}, {1, 9, 9, 3, 1}, {1, 20, 18, 17, 5},
            {2, 3, 5, 2, 3, 7, 10}, {1, 4, 4, 1, 1, 8, 8}, {1, 8, 12, 32, 2}, {2, 8, 8, 40, 4}};

    final int batch, sourceHeight, sourceWidth, channels, out, kernel, stride, pad, height, width, outHeight, outWidth;
    final int[] sourceRows, sourceColumns;
    final float[] input, weight, bias;

    /**
     * @param height the height the convolution sees its {@code sourceHeight}-row input at (resized when they differ)
     * @param width likewise for the width
     */
    ConvolutionReference(int batch, int sourceHeight, int sourceWidth, int channels, int out, int kernel, int stride,
            int pad, int height, int width, Random r) {
        this.batch = batch;
        this.sourceHeight = sourceHeight;
        this.sourceWidth = sourceWidth;
        this.channels = channels;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.pad = pad;
        this.height = height;
        this.width = width;
        outHeight = (height + 2 * pad - kernel) / stride + 1;
        outWidth = (width + 2 * pad - kernel) / stride + 1;
        boolean resized = height != sourceHeight || width != sourceWidth;
        sourceRows = resized ? LayoutKernels.nearestSources(sourceHeight, height) : null;
        sourceColumns = resized ? LayoutKernels.nearestSources(sourceWidth, width) : null;
        input = random(r, batch * sourceHeight * sourceWidth * channels, 1);
        weight = random(r, out * channels * kernel * kernel, 1);
        bias = random(r, out, 1);
    }

    /** The weight packed for the kernels, from F32. */
    PackedMatrix packedWeight() {
        return PackedMatrix.ofConvolution(ImageKernelsTest.raw("w", weight, out, channels, kernel, kernel), null,
                new AtomicLong());
    }

    /**
     * Rounds the weight to {@code dtype} (F16 or BF16) in place, and returns it stored in that type and packed: the
     * products of the two must then be the same.
     */
    PackedMatrix sixteenBitWeight(DType dtype) {
        ValueLayout.OfShort shorts = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        MemorySegment bits = MemorySegment.ofArray(new byte[weight.length * 2]);
        for (int i = 0; i < weight.length; i++) {
            short half = dtype == DType.F16 ? Float.floatToFloat16(weight[i])
                    : (short) (Float.floatToRawIntBits(weight[i]) >>> 16);
            bits.setAtIndex(shorts, i, half);
            weight[i] = dtype == DType.F16 ? Float.float16ToFloat(half) : Float.intBitsToFloat(half << 16);
        }
        return PackedMatrix.ofConvolution(new RawTensor("w", dtype, new long[] {out, channels, kernel, kernel}, bits),
                null, new AtomicLong());
    }

    ConvPatches patches(MemorySegment x) {
        return new ConvPatches(x, height, width, channels, kernel, kernel, stride, pad, pad, outHeight, outWidth, sourceRows,
                sourceColumns, sourceHeight, sourceWidth);
    }

    record Buffers(MemorySegment input, MemorySegment bias, MemorySegment out) {}

    /** Runs {@code kernel} over the input and bias in native memory and returns what it wrote, every element checked written. */
    float[] run(Consumer<Buffers> kernel) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment x = arena.allocate((long) input.length * Float.BYTES, 64);
            MemorySegment.copy(input, 0, x, FLOATS, 0, input.length);
            MemorySegment b = arena.allocate((long) out * Float.BYTES, 64);
            MemorySegment.copy(bias, 0, b, FLOATS, 0, out);
            float[] result = new float[batch * outHeight * outWidth * out];
            MemorySegment y = arena.allocate((long) result.length * Float.BYTES, 64);
            y.fill((byte) 0x7f); // NaN-free garbage: every element must be written
            kernel.accept(new Buffers(x, b, y));
            MemorySegment.copy(y, FLOATS, 0, result, 0, result.length);
            return result;
        }
    }

    /** The direct kernel's output: the patches' matrix product. */
    float[] direct(Parallel parallel) {
        PackedMatrix packed = packedWeight();
        return run(y -> GemmKernel.gemm(parallel, patches(y.input()), batch * outHeight * outWidth, packed, y.bias(),
                y.out()));
    }

    /**
     * The worst error of {@code actual} against direct loops in double, as a share of the value's scale; fails
     * {@code what} on an output that is not finite.
     */
    double worstError(float[] actual, String what) {
        double[] worst = {0};
        forEachOutput(actual, (where, got, expected, scale) -> {
            if (!Double.isFinite(got)) {
                fail(what + ": " + where + " is " + got);
            }
            worst[0] = Math.max(worst[0], Math.abs(got - expected) / scale);
        });
        return worst[0];
    }

    /** What a test checks at one output: where it is, the value computed, and {@link #expected}'s value and scale. */
    interface OutputCheck {
        void check(String where, double got, double expected, double scale);
    }

    /** Runs {@code check} on every output of {@code actual} (as {@link #run} returns it). */
    void forEachOutput(float[] actual, OutputCheck check) {
        for (int b = 0; b < batch; b++) {
            for (int oy = 0; oy < outHeight; oy++) {
                for (int ox = 0; ox < outWidth; ox++) {
                    for (int o = 0; o < out; o++) {
                        double[] expected = expected(b, oy, ox, o);
                        String where = "element (" + b + ", " + oy + ", " + ox + ", " + o + ")";
                        check.check(where, actual[index(b, oy, ox, o)], expected[0], expected[1]);
                    }
                }
            }
        }
    }

    /** Where output {@code (b, oy, ox, o)} is in the array {@link #run} returns. */
    int index(int b, int oy, int ox, int o) {
        return ((b * outHeight + oy) * outWidth + ox) * out + o;
    }

    /**
     * Output {@code (b, oy, ox, o)} in double, and its scale: the sum of the sizes of the bias and of the products
     * it adds (the bound of a float sum's rounding, per float ulp of each step).
     */
    double[] expected(int b, int oy, int ox, int o) {
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
        return new double[] {sum, scale};
    }
}
