package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.Activation;
import java.lang.foreign.MemorySegment;

/**
 * The compute kernels the CPU backend runs on: the Vector API ones ({@link VectorKernels}), or plain
 * Java loops ({@link ScalarKernels}) on a JVM started without {@code --add-modules jdk.incubator.vector}.
 * Both take the same flat float layouts; see {@link KernelChoice} for how one is picked.
 */
interface CpuKernels {
    /** Short name for logs and reports: {@code "vector"} or {@code "scalar"}. */
    String name();

    /** {@code c = a b^T + bias}, rows of {@code a} from {@code a}; see {@link GemmKernel}. */
    void gemm(Parallel parallel, RowSource a, int m, PackedMatrix b, MemorySegment bias, MemorySegment c);

    /**
     * {@code out = conv(input, weight) + bias} for a convolution that is not a plain matrix product:
     * {@code batch} items of the geometry {@code input} describes, channels-last, any buffers from {@code memory}.
     */
    void convolve(Parallel parallel, CpuMemoryPool memory, ConvPatches input, int batch, PackedMatrix weight,
            MemorySegment bias, MemorySegment out);

    void layerNorm(Parallel parallel, MemorySegment x, MemorySegment gamma, MemorySegment beta, float eps,
            MemorySegment out, int rows, int width);

    void softmax(Parallel parallel, MemorySegment x, MemorySegment out, int rows, int width);

    void activation(Parallel parallel, Activation activation, MemorySegment x, MemorySegment out, long count);

    void add(Parallel parallel, MemorySegment a, MemorySegment b, MemorySegment out, long count);

    void addPerItem(Parallel parallel, MemorySegment x, MemorySegment v, int batch, int positions, int width);

    void geglu(Parallel parallel, MemorySegment x, MemorySegment out, int rows, int width);

    void scale(Parallel parallel, MemorySegment x, MemorySegment out, long count, float factor);

    void attention(Parallel parallel, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out, int batch,
            int queries, int keys, int heads, int headDim, float scale, boolean causal);

    void groupNorm(Parallel parallel, MemorySegment x, MemorySegment gamma, MemorySegment beta, float eps, boolean silu,
            MemorySegment out, int batch, int pixels, int channels, int groups);
}
