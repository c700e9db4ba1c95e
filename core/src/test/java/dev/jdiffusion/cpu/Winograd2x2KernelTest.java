package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.weights.DType;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Winograd's F(2x2, 3x3) convolution against direct loops in double, and against the direct kernel's error. */
class Winograd2x2KernelTest {
    private static final CpuMemoryPool MEMORY = new CpuMemoryPool();
    private final Random r = new Random(29);

    @Test
    void matchesTheDirectConvolutionOnAwkwardShapes() {
        int lanes = VectorKernels.preferredFloatLanes();
        for (int threads = 1; threads <= 3; threads++) {
            try (Parallel parallel = new Parallel(threads)) {
                for (int[] c : ConvolutionReference.AWKWARD_SAME_SIZE_CASES) {
                    Convolution conv = new Convolution(c[0], c[1], c[2], c[3] * lanes, c[4] * lanes,
                            c.length > 5 ? c[5] : c[1], c.length > 5 ? c[6] : c[2], r);
                    String what = Arrays.toString(c) + " on " + threads + " threads";
                    double direct = conv.worstError(conv.direct(parallel), what);
                    double winograd = conv.worstError(
                            conv.winograd(parallel, conv.packedWeight(), WinogradKernel.BLOCK_FLOATS), what);
                    // Its transforms only add (and halve, exactly), three or four terms each way: it came within the
                    // direct kernel's error on every case but the one-channel-vector 1x1 image, where both are a
                    // few float ulps of the values' scale. A wrong transform shows as errors near the values' size.
                    double bound = Math.max(2 * direct, 8 * 0x1p-24);
                    if (!(winograd <= bound)) {
                        fail(what + ": worst error " + winograd + " of the value scale; the direct kernel's " + direct);
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
                assertArrayEquals(full.winograd(parallel, full.packedWeight(), WinogradKernel.BLOCK_FLOATS),
                        full.winograd(parallel, halfWeight, WinogradKernel.BLOCK_FLOATS), dtype.toString());
            }
        }
    }

    @Test
    void givesTheSameOutputOnAnyThreadsAndBlocks() {
        int lanes = VectorKernels.preferredFloatLanes();
        // 2 x 7 x 4 = 56 tiles: not a whole number of strips; the last panel of output channels is a part one
        Convolution conv = new Convolution(2, 13, 7, 2 * lanes, 3 * GemmLayout.NR + lanes, 13, 7, r);
        PackedMatrix weight = conv.packedWeight();
        long tileFloats = (long) Winograd2x2Weights.POSITIONS * 4 * GemmLayout.NR;
        float[] whole;
        try (Parallel parallel = new Parallel(1)) {
            whole = conv.winograd(parallel, weight, WinogradKernel.BLOCK_FLOATS);
        }
        for (int threads : new int[] {1, 2, 3, 10}) {
            try (Parallel parallel = new Parallel(threads)) {
                for (long blockFloats : new long[] {1, 7 * tileFloats, 12 * tileFloats, WinogradKernel.BLOCK_FLOATS}) {
                    assertArrayEquals(whole, conv.winograd(parallel, weight, blockFloats),
                            "blocks of at most " + blockFloats + " floats, " + threads + " threads");
                }
            }
        }
    }

    @Test
    void isWhatTheWinogradKernelRunsBelow32x32Pixels() {
        int lanes = VectorKernels.preferredFloatLanes();
        try (Parallel parallel = new Parallel(2)) {
            for (int size : new int[] {8, 16, 31}) {
                Convolution conv = new Convolution(2, size, size, 8 * lanes, 8 * lanes, size, size, r);
                PackedMatrix weight = conv.packedWeight();
                assertArrayEquals(conv.winograd(parallel, weight, WinogradKernel.BLOCK_FLOATS),
                        conv.run(y -> WinogradKernel.convolve(parallel, MEMORY, conv.patches(y.input()), conv.batch,
                                weight, y.bias(), y.out())), size + "x" + size);
            }
        }
    }

    /** A random 3x3, stride-1, padding-1 convolution with a bias, of an input seen through a resize. */
    private static final class Convolution extends ConvolutionReference {
        Convolution(int batch, int sourceHeight, int sourceWidth, int channels, int out, int height, int width, Random r) {
            super(batch, sourceHeight, sourceWidth, channels, out, 3, 1, 1, height, width, r);
        }

        float[] winograd(Parallel parallel, PackedMatrix packed, long blockFloats) {
            return run(y -> Winograd2x2Kernel.convolve(parallel, MEMORY, patches(y.input()), batch, packed, y.bias(),
                    y.out(), blockFloats));
        }
    }
}
