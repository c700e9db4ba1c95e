package dev.jdiffusion.cuda;

/** A CUDA, cuBLAS or NVRTC call that failed on the GPU, naming the call and the library's own words for it. */
public final class CudaException extends RuntimeException {
    CudaException(String message) {
        super(message);
    }
}
