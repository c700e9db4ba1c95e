package dev.jdiffusion.cuda;

import dev.jdiffusion.weights.DType;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Matrix products through cuBLAS on the backend's stream, in the row-major terms of the backend. cuBLAS is
 * column-major: a row-major {@code [rows, columns]} matrix is its column-major transpose, so
 * {@code C = A B^T} (row-major) is computed as {@code C^T = B A^T}, with no copy. The operands are F32, F16 or
 * BF16 (both of one type); the result is always F32 and the sums are accumulated in F32
 * ({@code CUBLAS_COMPUTE_32F}: with F32 operands this is plain single precision, without TF32).
 */
final class Cublas implements AutoCloseable {
    private final cublasContext handle = new cublasContext();
    private final FloatPointer zero = new FloatPointer(0f);
    private final FloatPointer alpha = new FloatPointer(1);

    Cublas(CUstream_st stream) {
        CudaCalls.checkBlas(cublas.cublasCreate_v2(handle), "cublasCreate");
        CudaCalls.checkBlas(cublas.cublasSetStream_v2(handle, stream), "cublasSetStream");
    }

    static int cudaType(DType type) {
        return switch (type) {
            case F32 -> cudart.CUDA_R_32F;
            case F16 -> cudart.CUDA_R_16F;
            case BF16 -> cudart.CUDA_R_16BF;
            default -> throw new IllegalArgumentException("cuBLAS products take F32, F16 or BF16 operands, not " + type);
        };
    }

    /**
     * {@code c[rows, out] = a[rows, in] * w[out, in]^T}, row-major, {@code a} and {@code w} of {@code type},
     * {@code c} F32.
     */
    void multiplyByTransposed(long a, long w, long c, int rows, int in, int out, DType type) {
        int t = cudaType(type);
        alpha.put(1f);
        CudaCalls.checkBlas(cublas.cublasGemmEx(handle, cublas.CUBLAS_OP_T, cublas.CUBLAS_OP_N, out, rows, in, alpha,
                new DevicePointer(w), t, in, new DevicePointer(a), t, in, zero, new DevicePointer(c), cudart.CUDA_R_32F,
                out, cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT), "cublasGemmEx");
    }

    /**
     * One product per head of a batch of attention: for head {@code h},
     * {@code C_h = factor * A_h op(B_h)}, each operand a row-major matrix at {@code base + h * stride} with rows
     * {@code ld} elements apart. {@code transposeB} picks {@code B_h^T} (scores from queries and keys) or
     * {@code B_h} (probabilities times values).
     */
    void multiplyPerHead(int heads, int rows, int columns, int depth, float factor, long a, int lda, long strideA,
            long b, int ldb, long strideB, boolean transposeB, long c, int ldc, long strideC, DType type) {
        int t = cudaType(type);
        alpha.put(factor);
        // row-major C = A op(B) is column-major C^T = op(B)^T A^T: cuBLAS's first operand is B
        CudaCalls.checkBlas(cublas.cublasGemmStridedBatchedEx(handle, transposeB ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N,
                cublas.CUBLAS_OP_N, columns, rows, depth, alpha, new DevicePointer(b), t, ldb, strideB,
                new DevicePointer(a), t, lda, strideA, zero, new DevicePointer(c), cudart.CUDA_R_32F, ldc, strideC, heads,
                cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT), "cublasGemmStridedBatchedEx");
    }

    @Override
    public void close() {
        cublas.cublasDestroy_v2(handle);
        zero.close();
        alpha.close();
    }
}
