package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A {@code [out, in]} weight packed for {@link GemmKernel}: the output columns cut into panels of
 * {@link GemmKernel#NR} and each panel stored k-major ({@code [in][NR]}), zero-padded past the last
 * column, so the micro-kernel streams one contiguous run per panel and never checks bounds.
 */
final class PackedMatrix implements ConvWeight {
    final int in;
    final int out;
    final int panels;
    /** For a convolution: input channels and kernel size (1, 1 and {@code in} for a plain matrix). */
    final int channels;
    final int kernelHeight;
    final int kernelWidth;
    final MemorySegment data;
    private final Arena arena;

    private PackedMatrix(int in, int out, int channels, int kernelHeight, int kernelWidth) {
        this.in = in;
        this.out = out;
        this.channels = channels;
        this.kernelHeight = kernelHeight;
        this.kernelWidth = kernelWidth;
        this.panels = (out + GemmKernel.NR - 1) / GemmKernel.NR;
        this.arena = Arena.ofShared();
        this.data = arena.allocate((long) panels * in * GemmKernel.NR * Float.BYTES, 64);
    }

    /** Packs a stored weight of any float type, widening 16-bit types here, once. */
    static PackedMatrix pack(RawTensor weight) {
        if (weight.rank() < 2) {
            throw new IllegalArgumentException("weight '" + weight.name() + "' must have rank >= 2, has shape "
                    + java.util.Arrays.toString(weight.shape()));
        }
        if (!weight.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("weight '" + weight.name() + "' is " + weight.dtype() + ", not a float type");
        }
        int out = Math.toIntExact(weight.dim(0));
        int in = Math.toIntExact(weight.elementCount() / Math.max(1, out));
        PackedMatrix packed = new PackedMatrix(in, out, in, 1, 1);
        float[] row = new float[in];
        for (int n = 0; n < out; n++) {
            long base = (long) n * in;
            for (int k = 0; k < in; k++) {
                row[k] = weight.getFloat(base + k);
            }
            packed.putRow(n, row);
        }
        return packed;
    }

    /**
     * Packs a convolution weight {@code [out, in, kh, kw]} with its columns reordered to
     * {@code (ky, kx, c)}, the order in which {@link ConvPatches} lays out a channels-last patch.
     */
    static PackedMatrix packConvolution(RawTensor weight) {
        if (weight.rank() != 4 || !weight.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("convolution weight '" + weight.name() + "' must be a float [out, in, kh, kw]"
                    + " tensor, is " + weight.dtype() + java.util.Arrays.toString(weight.shape()));
        }
        int out = Math.toIntExact(weight.dim(0));
        int channels = Math.toIntExact(weight.dim(1));
        int kh = Math.toIntExact(weight.dim(2));
        int kw = Math.toIntExact(weight.dim(3));
        int in = channels * kh * kw;
        PackedMatrix packed = new PackedMatrix(in, out, channels, kh, kw);
        float[] row = new float[in];
        for (int n = 0; n < out; n++) {
            for (int c = 0; c < channels; c++) {
                for (int ky = 0; ky < kh; ky++) {
                    for (int kx = 0; kx < kw; kx++) {
                        long stored = (((long) n * channels + c) * kh + ky) * kw + kx;
                        row[(ky * kw + kx) * channels + c] = weight.getFloat(stored);
                    }
                }
            }
            packed.putRow(n, row);
        }
        return packed;
    }

    /** Packs a row-major {@code [out, in]} F32 matrix (for tests and benchmarks). */
    static PackedMatrix pack(float[] values, int out, int in) {
        PackedMatrix packed = new PackedMatrix(in, out, in, 1, 1);
        float[] row = new float[in];
        for (int n = 0; n < out; n++) {
            System.arraycopy(values, n * in, row, 0, in);
            packed.putRow(n, row);
        }
        return packed;
    }

    private void putRow(int n, float[] row) {
        int panel = n / GemmKernel.NR;
        int lane = n % GemmKernel.NR;
        long base = (long) panel * in * GemmKernel.NR + lane;
        for (int k = 0; k < in; k++) {
            data.setAtIndex(ValueLayout.JAVA_FLOAT, base + (long) k * GemmKernel.NR, row[k]);
        }
    }

    @Override
    public int inFeatures() {
        return in;
    }

    @Override
    public int outFeatures() {
        return out;
    }

    @Override
    public int inChannels() {
        return channels;
    }

    @Override
    public int kernelHeight() {
        return kernelHeight;
    }

    @Override
    public int kernelWidth() {
        return kernelWidth;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
