package dev.jdiffusion.cuda;

import dev.jdiffusion.weights.DType;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Products with their bias and a residual added by cuBLASLt as the product's sums are stored (the bias by its
 * epilogue, the residual as its C operand with beta = 1), rather than by passes of their own over the output, each
 * of which read and wrote every output element once more. The same row-major terms as {@link Cublas}:
 * {@code c[rows, out] = a[rows, in] * w[out, in]^T + bias[out] + residual[rows, out]}, computed as the
 * column-major {@code c^T = w a^T + bias + residual^T}, so the bias runs along cuBLASLt's rows. The algorithm is
 * chosen by cuBLASLt's heuristic once per shape and kept.
 */
final class CublasLt implements AutoCloseable {
    /** The workspace cuBLASLt may use, as NVIDIA recommends for Hopper. */
    private static final long WORKSPACE_BYTES = 32L << 20;

    private record Shape(int rows, int in, int out, DType type, boolean withBias) {}

    /** A shape's descriptors and algorithm; null algorithm where cuBLASLt has none. */
    private record Plan(cublasLtMatmulDescOpaque_t description, cublasLtMatrixLayoutOpaque_t weights,
            cublasLtMatrixLayoutOpaque_t inputs, cublasLtMatrixLayoutOpaque_t outputs,
            cublasLtMatmulHeuristicResult_t algorithm) {}

    private final cublasLtContext handle = new cublasLtContext();
    private final CUstream_st stream;
    private final DeviceMemory memory;
    private final Map<Shape, Plan> plans = new HashMap<>();
    private final FloatPointer one = new FloatPointer(1f);
    private final FloatPointer zero = new FloatPointer(0f);
    private final LongPointer biasAddress = new LongPointer(1);
    private final IntPointer attribute = new IntPointer(1);
    private long workspace;

    CublasLt(CUstream_st stream, DeviceMemory memory) {
        this.stream = stream;
        this.memory = memory;
        CudaCalls.checkBlas(cublas.cublasLtCreate(handle), "cublasLtCreate");
    }

    /**
     * Queues {@code c = a w^T + bias + residual} ({@code a} and {@code w} of {@code type}, the rest F32; a bias or
     * residual address of 0 for none).
     *
     * @return false, having queued nothing, where cuBLASLt has no algorithm for the shape
     */
    synchronized boolean multiplyByTransposed(long a, long w, long bias, long residual, long c, int rows, int in,
            int out, DType type) {
        Plan plan = plans.computeIfAbsent(new Shape(rows, in, out, type, bias != 0), this::plan);
        if (plan.algorithm() == null) {
            return false;
        }
        if (bias != 0) {
            biasAddress.put(bias);
            setAttribute(plan.description(), cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER, biasAddress, Long.BYTES);
        }
        if (workspace == 0) {
            workspace = memory.allocate(WORKSPACE_BYTES);
        }
        FloatPointer beta = residual != 0 ? one : zero; // C is the residual, or unread
        long from = residual != 0 ? residual : c;
        CudaCalls.checkBlas(cublas.cublasLtMatmul(handle, plan.description(), one, new DevicePointer(w), plan.weights(),
                new DevicePointer(a), plan.inputs(), beta, new DevicePointer(from), plan.outputs(), new DevicePointer(c),
                plan.outputs(), plan.algorithm().algo(), new DevicePointer(workspace), WORKSPACE_BYTES, stream),
                "cublasLtMatmul");
        return true;
    }

    private Plan plan(Shape shape) {
        int type = Cublas.cudaType(shape.type());
        cublasLtMatmulDescOpaque_t description;
        try (PointerPointer<cublasLtMatmulDescOpaque_t> created = new PointerPointer<>(1)) {
            CudaCalls.checkBlas(cublas.cublasLtMatmulDescCreate(created, cublas.CUBLAS_COMPUTE_32F, cudart.CUDA_R_32F),
                    "cublasLtMatmulDescCreate");
            description = created.get(cublasLtMatmulDescOpaque_t.class, 0);
        }
        setInt(description, cublas.CUBLASLT_MATMUL_DESC_TRANSA, cublas.CUBLAS_OP_T);
        setInt(description, cublas.CUBLASLT_MATMUL_DESC_TRANSB, cublas.CUBLAS_OP_N);
        if (shape.withBias()) {
            setInt(description, cublas.CUBLASLT_MATMUL_DESC_EPILOGUE, cublas.CUBLASLT_EPILOGUE_BIAS);
            setInt(description, cublas.CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, cudart.CUDA_R_32F);
        }
        cublasLtMatrixLayoutOpaque_t weights = layout(type, shape.in(), shape.out());
        cublasLtMatrixLayoutOpaque_t inputs = layout(type, shape.in(), shape.rows());
        cublasLtMatrixLayoutOpaque_t outputs = layout(cudart.CUDA_R_32F, shape.out(), shape.rows());
        cublasLtMatmulHeuristicResult_t result = new cublasLtMatmulHeuristicResult_t();
        cublasLtMatmulPreferenceOpaque_t preference;
        try (PointerPointer<cublasLtMatmulPreferenceOpaque_t> created = new PointerPointer<>(1);
                LongPointer bytes = new LongPointer(1);
                IntPointer found = new IntPointer(1)) {
            CudaCalls.checkBlas(cublas.cublasLtMatmulPreferenceCreate(created), "cublasLtMatmulPreferenceCreate");
            preference = created.get(cublasLtMatmulPreferenceOpaque_t.class, 0);
            bytes.put(WORKSPACE_BYTES);
            CudaCalls.checkBlas(cublas.cublasLtMatmulPreferenceSetAttribute(preference,
                    cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, bytes, Long.BYTES),
                    "cublasLtMatmulPreferenceSetAttribute");
            int status = cublas.cublasLtMatmulAlgoGetHeuristic(handle, description, weights, inputs, outputs, outputs,
                    preference, 1, result, found);
            cublas.cublasLtMatmulPreferenceDestroy(preference);
            if (status != cublas.CUBLAS_STATUS_SUCCESS || found.get() == 0) {
                result.close();
                result = null;
            }
        }
        return new Plan(description, weights, inputs, outputs, result);
    }

    /** A column-major matrix of {@code rows x columns}, columns {@code rows} elements apart. */
    private static cublasLtMatrixLayoutOpaque_t layout(int type, int rows, int columns) {
        try (PointerPointer<cublasLtMatrixLayoutOpaque_t> created = new PointerPointer<>(1)) {
            CudaCalls.checkBlas(cublas.cublasLtMatrixLayoutCreate(created, type, rows, columns, rows),
                    "cublasLtMatrixLayoutCreate");
            return created.get(cublasLtMatrixLayoutOpaque_t.class, 0);
        }
    }

    private void setInt(cublasLtMatmulDescOpaque_t description, int name, int value) {
        attribute.put(value);
        setAttribute(description, name, attribute, Integer.BYTES);
    }

    private static void setAttribute(cublasLtMatmulDescOpaque_t description, int name, Pointer value, long bytes) {
        CudaCalls.checkBlas(cublas.cublasLtMatmulDescSetAttribute(description, name, value, bytes),
                "cublasLtMatmulDescSetAttribute(" + name + ")");
    }

    @Override
    public synchronized void close() {
        for (Plan plan : plans.values()) {
            cublas.cublasLtMatmulDescDestroy(plan.description());
            cublas.cublasLtMatrixLayoutDestroy(plan.weights());
            cublas.cublasLtMatrixLayoutDestroy(plan.inputs());
            cublas.cublasLtMatrixLayoutDestroy(plan.outputs());
            if (plan.algorithm() != null) {
                plan.algorithm().close();
            }
        }
        plans.clear();
        if (workspace != 0) {
            memory.free(workspace, WORKSPACE_BYTES);
            workspace = 0;
        }
        cublas.cublasLtDestroy(handle);
        one.close();
        zero.close();
        biasAddress.close();
        attribute.close();
    }
}
