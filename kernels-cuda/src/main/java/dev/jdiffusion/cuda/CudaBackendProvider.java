package dev.jdiffusion.cuda;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.BackendProvider;
import dev.jdiffusion.tensor.Device;

/**
 * Device kind {@code cuda}: registered through {@code META-INF/services}, so {@code Device.cuda(n)} and
 * {@code --device cuda:n} find it when this module is on the class path.
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override
    public String deviceKind() {
        return "cuda";
    }

    /**
     * Checks the CUDA runtime and the GPU first, so a machine without them gets an error naming what is missing, then
     * compiles the kernels for the GPU. {@code hostThreads} is not used: the host only queues work.
     */
    @Override
    public Backend open(Device device, int hostThreads) {
        CudaRuntime.Gpu gpu = CudaRuntime.gpu(device.index());
        CudaRuntime.loadLibraries();
        return new CudaBackend(gpu);
    }
}
