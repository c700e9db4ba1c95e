package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.weights.DType;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Winograd's F(4x4, 3x3) convolution against direct loops in double, and against the direct kernel's error. */
class WinogradKernelTest {
    private static final CpuMemoryPool MEMORY = new CpuMemoryPool();
    private final Random r = new Random(23);

    @Test
    void matchesTheDirectConvolutionOnAwkwardShapesInBothSchedules() {
        int lanes = VectorKernels.preferredFloatLanes();
        for (int threads = 1; threads <= 3; threads++) {
            try (Parallel parallel = new Parallel(threads)) {
                for (int[] c : ConvolutionReference.AWKWARD_SAME_SIZE_CASES) {
                    Convolution conv = new Convolution(c[0], c[1], c[2], c[3] * lanes, c[4] * lanes, c.length > 5 ? c[5] : c[1],
                            c.length > 5 ? c[6] : c[2], r);
                    String what = Arrays.toString(c) + " on " + threads + " threads";
                    double direct = conv.worstError(conv.direct(parallel), what);
                    double inBlocks = conv.worstError(conv.inBlocks(parallel), what + ", in blocks");
                    double inChunks = conv.worstError(conv.inChunks(parallel), what + ", in chunks");
                    // Its transforms scale by up to 8 and sum six terms each way: with few channels that rounding, some
                    // tens of float ulps of the values' scale, outweighs the products'; with many it stays within a
                    // few times the direct kernel's. A wrong transform shows as errors near the values' size.
                    double bound = Math.max(4 * direct, 32 * 0x1p-24);
                    if (!(inBlocks <= bound) || !(inChunks <= bound)) {
                        fail(what + ": worst error " + inBlocks + " in blocks and " + inChunks
                                + " in chunks, of the value scale; the direct kernel's " + direct);
                    }
                }
            }
        }
    }

    @Test
    void readsSixteenBitWeightsAsTheirWidenedValues() {
        int channels = 2 * VectorKernels.preferredFloatLanes();
        try (Parallel parallel = new Parallel(2)) {
            for (DType dtype : new DType[] {DType.F16, DType.BF16}) {
                Convolution full = new Convolution(1, 7, 6, channels, channels, 7, 6, r);
                PackedMatrix halfWeight = full.sixteenBitWeight(dtype);
                assertArrayEquals(full.winograd(parallel), full.winograd(parallel, halfWeight), dtype.toString());
            }
        }
    }

    @Test
    void takesStrideOneConvolutionsOfManyChannelsAndPixelsOnly() {
        int channels = WinogradKernel.MIN_CHANNELS;
        assertTrue(WinogradKernel.applies(patches(32, 32, channels, 3, 1, 1), channels));
        assertTrue(WinogradKernel.applies(patches(64, 16, 2 * channels, 3, 1, 1), channels));
        assertTrue(WinogradKernel.applies(patches(8, 8, 10 * channels, 3, 1, 1), 10 * channels), "by F(2x2)");
        assertFalse(WinogradKernel.applies(patches(4, 8, 10 * channels, 3, 1, 1), 10 * channels), "too few pixels");
        assertFalse(WinogradKernel.applies(patches(256, 256, channels / 2, 3, 1, 1), channels), "few input channels");
        assertFalse(WinogradKernel.applies(patches(256, 256, channels, 3, 1, 1), channels / 2), "few output channels");
        assertFalse(WinogradKernel.applies(patches(128, 128, channels + 1, 3, 1, 1), channels),
                "a partial vector of input channels");
        assertFalse(WinogradKernel.applies(patches(128, 128, channels, 3, 1, 1), channels + 1),
                "a partial vector of output channels");
        assertFalse(WinogradKernel.applies(patches(256, 256, channels, 3, 2, 1), channels), "stride 2");
        assertFalse(WinogradKernel.applies(patches(256, 256, channels, 3, 1, 0), channels), "no padding");
        assertFalse(WinogradKernel.applies(patches(256, 256, channels, 1, 1, 0), channels), "a 1x1 kernel");
    }

    @Test
    void givesTheSameOutputInEveryScheduleAndAnyBlocksChunksAndGroups() {
        int lanes = VectorKernels.preferredFloatLanes();
        // 16 tiles: chunks of six leave a part strip at the end; the last panel of output channels is a part one
        Convolution conv = new Convolution(2, 13, 7, 2 * lanes, 3 * GemmLayout.NR + lanes, 13, 7, r);
        PackedMatrix weight = PackedMatrix.ofConvolution(
                ImageKernelsTest.raw("w", conv.weight, conv.out, conv.channels, 3, 3), null, new AtomicLong());
        long panelBytes = Winograd4x4Weights.bytes(conv.channels, 1);
        long tileFloats = (long) Winograd4x4Weights.POSITIONS * conv.out;
        long[] groupSizes = {panelBytes, 2 * panelBytes, 3 * panelBytes + 1, WinogradKernel.GROUP_BYTES};
        float[] whole;
        try (Parallel parallel = new Parallel(2)) {
            whole = conv.inBlocks(parallel);
        }
        // with ten threads, the 36 products of a block split their rows too
        for (int threads : new int[] {1, 2, 10}) {
            try (Parallel parallel = new Parallel(threads)) {
                for (long groupBytes : groupSizes) {
                    for (long blockFloats : new long[] {1, 5 * tileFloats, WinogradKernel.BLOCK_FLOATS}) {
                        assertArrayEquals(whole, conv.run(y -> WinogradKernel.convolveInBlocks(parallel, MEMORY,
                                conv.patches(y.input()), conv.batch, weight, y.bias(), y.out(), blockFloats, groupBytes)),
                                "blocks of at most " + blockFloats + " floats, groups of at most " + groupBytes
                                        + " bytes, " + threads + " threads");
                    }
                    for (long chunkFloats : new long[] {1, 12 * tileFloats, WinogradChunks.CHUNK_FLOATS}) {
                        assertArrayEquals(whole, conv.run(y -> WinogradChunks.convolve(parallel, conv.patches(y.input()),
                                conv.batch, weight, y.bias(), y.out(), chunkFloats, groupBytes)),
                                "chunks of at most " + chunkFloats + " floats, groups of at most " + groupBytes
                                        + " bytes, " + threads + " threads");
                    }
                }
            }
        }
    }

    @Test
    void keepsOnlyTheDirectPanelsBetweenCalls() {
        AtomicLong packedBytes = new AtomicLong();
        int lanes = VectorKernels.preferredFloatLanes();
        Convolution conv = new Convolution(1, 4, 4, lanes, lanes, 4, 4, r);
        PackedMatrix weight = PackedMatrix.ofConvolution(ImageKernelsTest.raw("w", conv.weight, lanes, lanes, 3, 3),
                null, packedBytes);
        try (Parallel parallel = new Parallel(1)) {
            float[] first = conv.winograd(parallel, weight);
            assertEquals((long) weight.panels * weight.in * GemmLayout.NR * Float.BYTES, packedBytes.get(),
                    "the transformed weights are not kept");
            weight.unload();
            assertEquals(0, packedBytes.get());
            assertArrayEquals(first, conv.winograd(parallel, weight), "packed and transformed again after the unload");
        }
    }

    private static ConvPatches patches(int height, int width, int channels, int kernel, int stride, int pad) {
        int out = (height + 2 * pad - kernel) / stride + 1;
        int outWidth = (width + 2 * pad - kernel) / stride + 1;
        return new ConvPatches(MemorySegment.NULL, height, width, channels, kernel, kernel, stride, pad, pad, out, outWidth,
                null, null, height, width);
    }

    /** A random 3x3, stride-1, padding-1 convolution with a bias, of an input seen through a resize. */
    private static final class Convolution extends ConvolutionReference {
        Convolution(int batch, int sourceHeight, int sourceWidth, int channels, int out, int height, int width, Random r) {
            super(batch, sourceHeight, sourceWidth, channels, out, 3, 1, 1, height, width, r);
        }

        float[] winograd(Parallel parallel) {
            return winograd(parallel, packedWeight());
        }

        float[] inBlocks(Parallel parallel) {
            PackedMatrix packed = packedWeight();
            return run(y -> WinogradKernel.convolveInBlocks(parallel, MEMORY, patches(y.input()), batch, packed, y.bias(),
                    y.out(), WinogradKernel.BLOCK_FLOATS, WinogradKernel.GROUP_BYTES));
        }

        float[] inChunks(Parallel parallel) {
            PackedMatrix packed = packedWeight();
            return run(y -> WinogradChunks.convolve(parallel, patches(y.input()), batch, packed, y.bias(), y.out()));
        }

        float[] winograd(Parallel parallel, PackedMatrix packed) {
            return run(y -> WinogradKernel.convolve(parallel, MEMORY, patches(y.input()), batch, packed, y.bias(), y.out()));
        }
    }
}
