package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.weights.DType;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The few-output convolution against loops in double, on awkward shapes, strides, paddings and resizes. */
class NarrowConvKernelTest {
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
                PackedMatrix halfWeight = full.sixteenBitWeight(dtype);
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
        assertFalse(NarrowConvKernel.applies(patches(lanes / 2, 3), 3), "half a vector of channels");
    }

    private static ConvPatches patches(int channels, int kernel) {
        return new ConvPatches(MemorySegment.NULL, 16, 16, channels, kernel, kernel, 1, 1, 1, 16, 16, null, null, 16, 16);
    }

    /** A random convolution with a bias, of an input seen through a resize when the case gives one. */
    private static final class Convolution extends ConvolutionReference {
        /** {@code c}: batch, height, width, channels (in vectors), out, kernel, stride, pad; then the resize, if any. */
        Convolution(int[] c, int lanes, Random r) {
            super(c[0], c[1], c[2], c[3] * lanes, c[4], c[5], c[6], c[7], c.length > 8 ? c[8] : c[1],
                    c.length > 8 ? c[9] : c[2], r);
        }

        float[] run(Parallel parallel) {
            return run(parallel, packedWeight());
        }

        float[] run(Parallel parallel, PackedMatrix packed) {
            return run(y -> {
                ConvPatches patches = patches(y.input());
                assertTrue(NarrowConvKernel.applies(patches, out));
                NarrowConvKernel.convolve(parallel, patches, batch, packed, y.bias(), y.out());
            });
        }

        /**
         * Every output within the rounding bound of its sum, which runs in lane-wise chains of
         * {@code taps x channels / lanes} products, then across the lanes, then adds the bias: one float rounding
         * per step, each at most the sum of the terms' sizes.
         */
        void check(float[] actual, String what) {
            int lanes = VectorKernels.preferredFloatLanes();
            int steps = kernel * kernel * channels / lanes + Integer.numberOfTrailingZeros(lanes) + 1;
            forEachOutput(actual, (where, got, expected, scale) -> {
                if (!(Math.abs(got - expected) <= steps * 0x1p-24 * scale)) {
                    fail(what + ": " + where + " is " + got + ", expected " + expected);
                }
            });
        }
    }
}
