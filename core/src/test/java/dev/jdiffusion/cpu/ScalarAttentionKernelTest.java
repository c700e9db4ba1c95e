package dev.jdiffusion.cpu;

/** Every case of {@link AttentionKernelTest} on the scalar kernels a JVM without the Vector API runs. */
class ScalarAttentionKernelTest extends AttentionKernelTest {
    @Override
    CpuKernels kernels() {
        return new ScalarKernels();
    }
}
