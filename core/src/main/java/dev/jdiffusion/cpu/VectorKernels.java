package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.Activation;
import java.lang.foreign.MemorySegment;

/** The Vector API kernels. Loaded only where the JVM has the {@code jdk.incubator.vector} module. */
final class VectorKernels implements CpuKernels {
    @Override
    public String name() {
        return "vector";
    }

    @Override
    public void gemm(Parallel parallel, RowSource a, int m, PackedMatrix b, MemorySegment bias, MemorySegment c) {
        GemmKernel.gemm(parallel, a, m, b, bias, c);
    }

    /**
     * Winograd's F(4x4, 3x3), or F(2x2, 3x3) on small images, where it applies ({@link WinogradKernel#applies}),
     * dot products along the channels for a few outputs ({@link NarrowConvKernel#applies}), else the patches' GEMM.
     */
    @Override
    public void convolve(Parallel parallel, CpuMemoryPool memory, ConvPatches input, int batch, PackedMatrix weight,
            MemorySegment bias, MemorySegment out) {
        if (WinogradKernel.applies(input, weight.out)) {
            WinogradKernel.convolve(parallel, memory, input, batch, weight, bias, out);
        } else if (NarrowConvKernel.applies(input, weight.out)) {
            NarrowConvKernel.convolve(parallel, input, batch, weight, bias, out);
        } else {
            GemmKernel.gemm(parallel, input, batch * input.outHeight() * input.outWidth(), weight, bias, out);
        }
    }

    @Override
    public void layerNorm(Parallel parallel, MemorySegment x, MemorySegment gamma, MemorySegment beta, float eps,
            MemorySegment out, int rows, int width) {
        RowKernels.layerNorm(parallel, x, gamma, beta, eps, out, rows, width);
    }

    @Override
    public void softmax(Parallel parallel, MemorySegment x, MemorySegment out, int rows, int width) {
        RowKernels.softmax(parallel, x, out, rows, width);
    }

    @Override
    public void activation(Parallel parallel, Activation activation, MemorySegment x, MemorySegment out, long count) {
        PointwiseKernels.activation(parallel, activation, x, out, count);
    }

    @Override
    public void add(Parallel parallel, MemorySegment a, MemorySegment b, MemorySegment out, long count) {
        PointwiseKernels.add(parallel, a, b, out, count);
    }

    @Override
    public void addPerItem(Parallel parallel, MemorySegment x, MemorySegment v, int batch, int positions, int width) {
        PointwiseKernels.addPerItem(parallel, x, v, batch, positions, width);
    }

    @Override
    public void geglu(Parallel parallel, MemorySegment x, MemorySegment out, int rows, int width) {
        PointwiseKernels.geglu(parallel, x, out, rows, width);
    }

    @Override
    public void scale(Parallel parallel, MemorySegment x, MemorySegment out, long count, float factor) {
        PointwiseKernels.scale(parallel, x, out, count, factor);
    }

    @Override
    public void attention(Parallel parallel, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
            int batch, int queries, int keys, int heads, int headDim, float scale, boolean causal) {
        AttentionKernel.attention(parallel, q, k, v, out, batch, queries, keys, heads, headDim, scale, causal);
    }

    @Override
    public void groupNorm(Parallel parallel, MemorySegment x, MemorySegment gamma, MemorySegment beta, float eps,
            boolean silu, MemorySegment out, int batch, int pixels, int channels, int groups) {
        GroupNormKernel.groupNorm(parallel, x, gamma, beta, eps, silu, out, batch, pixels, channels, groups);
    }

    /** Floats per preferred vector, which sets the GEMM's panel width. */
    static int preferredFloatLanes() {
        return jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
    }

    /**
     * Whether the JIT compiles the Vector API's scatters and gathers to single instructions: on x86 with
     * AVX-512, and on Arm with SVE vectors wider than NEON's. (AVX2 has gathers only and NEON neither; SVE at
     * NEON's width is taken for NEON.)
     */
    static boolean nativeScatter() {
        int bits = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();
        return x86() ? bits >= 512 : bits >= 256;
    }

    /**
     * Whether the compiled code has only sixteen vector registers: x86 below AVX-512 (AVX2, or SSE). AVX-512
     * and Arm's NEON and SVE have thirty-two. The register-blocked micro-kernels are sized by it: a tile that
     * needs more registers than there are is spilled to the stack inside the loop. The system property
     * {@value KernelChoice#REGISTERS_PROPERTY} overrides the guess.
     */
    static boolean sixteenVectorRegisters() {
        String forced = System.getProperty(KernelChoice.REGISTERS_PROPERTY);
        if (forced != null) {
            return switch (forced.trim()) {
                case "16" -> true;
                case "32" -> false;
                default -> throw new IllegalArgumentException(
                        "-D" + KernelChoice.REGISTERS_PROPERTY + "=" + forced + ": expected 16 or 32");
            };
        }
        return x86() && preferredFloatLanes() < 16;
    }

    private static boolean x86() {
        String arch = System.getProperty("os.arch", "");
        return arch.equals("amd64") || arch.equals("x86_64") || arch.equals("x86") || arch.equals("i386");
    }
}
