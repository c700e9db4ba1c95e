package dev.jdiffusion.cpu;

/** Every case of {@link ImageKernelsTest} on the scalar kernels a JVM without the Vector API runs. */
class ScalarImageKernelsTest extends ImageKernelsTest {
    @Override
    CpuKernels kernels() {
        return new ScalarKernels();
    }
}
