package dev.jdiffusion.cuda;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.BackendProvider;
import dev.jdiffusion.tensor.BackendUnavailableException;
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
     * Checks the CUDA runtime and the GPU first, so a machine without them gets an error naming what is missing.
     * The backend's operations are not built in this version: on a GPU the error says so.
     */
    @Override
    public Backend open(Device device, int hostThreads) {
        CudaRuntime.Gpu gpu = CudaRuntime.gpu(device.index());
        throw new BackendUnavailableException("found " + gpu + ", but this version of jdiffusion-kernels-cuda does not run"
                + " models yet: its CUDA kernels are written and compile-checked, the backend's operations over cuBLAS,"
                + " cuDNN and NVRTC are not built; use the CPU backend (--device cpu)");
    }
}
