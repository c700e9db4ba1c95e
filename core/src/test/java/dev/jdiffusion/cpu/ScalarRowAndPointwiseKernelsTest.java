package dev.jdiffusion.cpu;

/** Every case of {@link RowAndPointwiseKernelsTest} on the scalar kernels a JVM without the Vector API runs. */
class ScalarRowAndPointwiseKernelsTest extends RowAndPointwiseKernelsTest {
    @Override
    CpuKernels kernels() {
        return new ScalarKernels();
    }
}
