package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A {@code [out, in]} weight packed for {@link GemmKernel}: the output columns cut into panels of
 * {@link GemmKernel#NR} and each panel stored k-major ({@code [in][NR]}), zero-padded past the last
 * column, so the micro-kernel streams one contiguous run per panel and never checks bounds.
 */
final class PackedMatrix implements LinearWeight {
    final int in;
    final int out;
    final int panels;
    final MemorySegment data;
    private final Arena arena;

    private PackedMatrix(int in, int out) {
        this.in = in;
        this.out = out;
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
        PackedMatrix packed = new PackedMatrix(in, out);
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

    /** Packs {@code rows} rows of a row-major F32 matrix (for tests and activations used as weights). */
    static PackedMatrix pack(float[] values, int out, int in) {
        PackedMatrix packed = new PackedMatrix(in, out);
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
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
