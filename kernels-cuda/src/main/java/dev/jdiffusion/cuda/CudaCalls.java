package dev.jdiffusion.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.javacpp.PointerPointer;

/** Turns the status codes of the CUDA libraries into {@link CudaException}s that say which call failed and why. */
final class CudaCalls {
    private CudaCalls() {}

    /** A CUDA runtime call ({@code cuda...}). */
    static void check(int status, String call) {
        if (status != cudart.cudaSuccess) {
            cudart.cudaGetLastError(); // clears the error, so that the next call does not report it again
            throw new CudaException(call + " failed: " + cudart.cudaGetErrorString(status).getString() + " (error " + status + ")");
        }
    }

    /** A CUDA driver call ({@code cu...}). */
    static void checkDriver(int status, String call) {
        if (status != cudart.CUDA_SUCCESS) {
            String text = "error " + status;
            try (PointerPointer<?> message = new PointerPointer<>(1)) {
                if (cudart.cuGetErrorString(status, message) == cudart.CUDA_SUCCESS && message.get(0) != null) {
                    text = message.getString(0) + " (" + text + ")";
                }
            }
            throw new CudaException(call + " failed: " + text);
        }
    }

    static void checkBlas(int status, String call) {
        if (status != cublas.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(call + " failed: " + cublas.cublasGetStatusString(status).getString() + " (status " + status + ")");
        }
    }

    static void checkNvrtc(int status, String call) {
        if (status != nvrtc.NVRTC_SUCCESS) {
            throw new CudaException(call + " failed: " + nvrtc.nvrtcGetErrorString(status).getString());
        }
    }
}
