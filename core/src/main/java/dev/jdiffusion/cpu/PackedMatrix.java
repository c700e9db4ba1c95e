package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A {@code [out, in]} weight packed for {@link GemmKernel}: the output columns cut into panels of
 * {@link GemmLayout#NR} and each panel stored k-major ({@code [in][NR]}), zero-padded past the last
 * column, so the micro-kernel streams one contiguous run per panel and never checks bounds. Weights
 * stored in 16 bits (F16, BF16) stay 16-bit here; the product widens each block as it uses it.
 */
final class PackedMatrix implements ConvWeight {
    final int in;
    final int out;
    final int panels;
    /** F32, or the 16-bit type the weight was stored in. */
    final DType storage;
    /** For a convolution: input channels and kernel size (1, 1 and {@code in} for a plain matrix). */
    final int channels;
    final int kernelHeight;
    final int kernelWidth;
    final MemorySegment data;
    private final Arena arena;

    private PackedMatrix(int in, int out, int channels, int kernelHeight, int kernelWidth, DType storage) {
        this.in = in;
        this.out = out;
        this.storage = storage;
        this.channels = channels;
        this.kernelHeight = kernelHeight;
        this.kernelWidth = kernelWidth;
        this.panels = (out + GemmLayout.NR - 1) / GemmLayout.NR;
        this.arena = Arena.ofShared();
        this.data = arena.allocate((long) panels * in * GemmLayout.NR * storage.byteSize(), 64);
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
        PackedMatrix packed = new PackedMatrix(in, out, in, 1, 1, storageFor(weight));
        for (int n = 0; n < out; n++) {
            long base = (long) n * in;
            for (int k = 0; k < in; k++) {
                packed.put(n, k, weight, base + k);
            }
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
        PackedMatrix packed = new PackedMatrix(in, out, channels, kh, kw, storageFor(weight));
        for (int n = 0; n < out; n++) {
            for (int c = 0; c < channels; c++) {
                for (int ky = 0; ky < kh; ky++) {
                    for (int kx = 0; kx < kw; kx++) {
                        long stored = (((long) n * channels + c) * kh + ky) * kw + kx;
                        packed.put(n, (ky * kw + kx) * channels + c, weight, stored);
                    }
                }
            }
        }
        return packed;
    }

    /** Packs a row-major {@code [out, in]} F32 matrix (for tests and benchmarks). */
    static PackedMatrix pack(float[] values, int out, int in) {
        PackedMatrix packed = new PackedMatrix(in, out, in, 1, 1, DType.F32);
        for (int n = 0; n < out; n++) {
            for (int k = 0; k < in; k++) {
                packed.data.setAtIndex(ValueLayout.JAVA_FLOAT, packed.index(n, k), values[n * in + k]);
            }
        }
        return packed;
    }

    /** 16-bit weights keep their type; everything else is stored as F32. */
    private static DType storageFor(RawTensor weight) {
        return weight.dtype() == DType.F16 || weight.dtype() == DType.BF16 ? weight.dtype() : DType.F32;
    }

    /** The element index of row {@code n}, column {@code k} in the panel layout. */
    private long index(int n, int k) {
        return ((long) (n / GemmLayout.NR) * in + k) * GemmLayout.NR + n % GemmLayout.NR;
    }

    /** Element {@code (n, k)} from element {@code at} of the stored weight, as stored when 16-bit. */
    private void put(int n, int k, RawTensor weight, long at) {
        if (storage == DType.F32) {
            data.setAtIndex(ValueLayout.JAVA_FLOAT, index(n, k), weight.getFloat(at));
        } else {
            data.setAtIndex(ValueLayout.JAVA_SHORT, index(n, k), weight.data().getAtIndex(STORED_16_BIT, at));
        }
    }

    private static final ValueLayout.OfShort STORED_16_BIT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

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
