package dev.jdiffusion.cuda;

import dev.jdiffusion.tensor.BackendUnavailableException;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Loader;

/**
 * The CUDA runtime as this machine has it: loads JavaCPP's bindings of {@code libcudart} and lists the GPUs,
 * turning every way that can fail (no library, no driver, no device) into a {@link BackendUnavailableException}
 * that names what is missing and where it was looked for, never a JVM crash.
 */
final class CudaRuntime {
    /** The runtime library JavaCPP's CUDA 13 presets link against. */
    static final String RUNTIME_LIBRARY = "libcudart.so.13";
    /** The driver library the bindings need too; only a machine with the NVIDIA driver has it. */
    static final String DRIVER_LIBRARY = "libcuda.so.1";

    /** One GPU as the runtime describes it. */
    record Gpu(int index, String name, int major, int minor, long memoryBytes) {
        /** NVRTC's name for the architecture: {@code sm_90} for a Hopper H100/H200. */
        String architecture() {
            return "sm_" + major + minor;
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "cuda:%d %s (%s, %.0f GiB)", index, name, architecture(),
                    memoryBytes / (double) (1L << 30));
        }
    }

    private CudaRuntime() {}

    /** The GPUs the CUDA runtime sees, at least one; a {@link BackendUnavailableException} otherwise. */
    static List<Gpu> gpus() {
        loadBindings();
        int[] count = {0};
        int status = cudart.cudaGetDeviceCount(count);
        if (status != cudart.cudaSuccess) {
            throw new BackendUnavailableException("CUDA found no usable GPU: cudaGetDeviceCount says "
                    + errorText(status) + " (is the NVIDIA driver installed and a GPU visible to this process?"
                    + " CUDA_VISIBLE_DEVICES=" + System.getenv("CUDA_VISIBLE_DEVICES") + ")");
        }
        if (count[0] == 0) {
            throw new BackendUnavailableException("CUDA found no GPU on this machine");
        }
        List<Gpu> gpus = new ArrayList<>();
        for (int i = 0; i < count[0]; i++) {
            try (cudaDeviceProp properties = new cudaDeviceProp()) {
                int read = cudart.cudaGetDeviceProperties(properties, i);
                if (read != cudart.cudaSuccess) {
                    throw new BackendUnavailableException("cannot read the properties of GPU " + i + ": " + errorText(read));
                }
                gpus.add(new Gpu(i, properties.name().getString().trim(), properties.major(), properties.minor(),
                        properties.totalGlobalMem()));
            }
        }
        return List.copyOf(gpus);
    }

    /** The GPU {@code index}, or an error listing the ones there are. */
    static Gpu gpu(int index) {
        List<Gpu> gpus = gpus();
        if (index >= gpus.size()) {
            throw new BackendUnavailableException("no GPU cuda:" + index + " here; CUDA sees " + gpus);
        }
        return gpus.get(index);
    }

    /**
     * Loads cuBLAS and NVRTC, which the backend needs beyond the runtime, or says which one is missing and where it
     * was looked for.
     */
    static void loadLibraries() {
        load(org.bytedeco.cuda.global.cublas.class, "cuBLAS (libcublas.so.13 and libcublasLt.so.13)");
        load(org.bytedeco.cuda.global.nvrtc.class, "NVRTC (libnvrtc.so.13)");
    }

    private static void load(Class<?> bindings, String library) {
        try {
            Loader.load(bindings);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            throw new BackendUnavailableException("the CUDA backend needs " + library + ", which could not be loaded: "
                    + rootMessage(e) + ". Looked in java.library.path=" + System.getProperty("java.library.path")
                    + ", LD_LIBRARY_PATH=" + System.getenv("LD_LIBRARY_PATH") + " and the system's library path", e);
        }
    }

    private static void loadBindings() {
        try {
            Loader.load(cudart.class);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            throw new BackendUnavailableException("the CUDA libraries could not be loaded, the runtime " + RUNTIME_LIBRARY
                    + " (CUDA 13.x) and the NVIDIA driver's " + DRIVER_LIBRARY + ": " + rootMessage(e) + ". Looked in java.library.path=" + System.getProperty("java.library.path")
                    + ", LD_LIBRARY_PATH=" + System.getenv("LD_LIBRARY_PATH") + " and the system's library path."
                    + " Install the CUDA 13 runtime (or put the lib folder of the nvidia-cuda-runtime wheel on"
                    + " LD_LIBRARY_PATH), or add org.bytedeco:cuda-redist to the class path", e);
        }
    }

    private static String errorText(int status) {
        try {
            return cudart.cudaGetErrorString(status).getString() + " (error " + status + ")";
        } catch (RuntimeException e) {
            return "error " + status;
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.toString();
    }
}
