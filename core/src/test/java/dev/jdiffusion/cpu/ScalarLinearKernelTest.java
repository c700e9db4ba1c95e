package dev.jdiffusion.cpu;

/** Every case of {@link LinearKernelTest} on the scalar kernels a JVM without the Vector API runs. */
class ScalarLinearKernelTest extends LinearKernelTest {
    @Override
    CpuKernels kernels() {
        return new ScalarKernels();
    }
}
