package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Shapes;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/** The CPU backend: Vector API kernels on one thread pool, activations in pooled off-heap memory. */
public final class CpuBackend implements Backend {
    /** System property that sets the default thread count. */
    public static final String THREADS_PROPERTY = "jdiffusion.threads";

    private final Parallel parallel;
    private final CpuMemoryPool memory = new CpuMemoryPool();

    /** A backend using {@code threads} threads (the calling thread included). */
    public CpuBackend(int threads) {
        this.parallel = new Parallel(threads);
    }

    /** A backend on all cores, or on {@code -Djdiffusion.threads=N}. */
    public CpuBackend() {
        this(defaultThreads());
    }

    public static int defaultThreads() {
        String configured = System.getProperty(THREADS_PROPERTY);
        if (configured != null) {
            try {
                int n = Integer.parseInt(configured.trim());
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
            throw new IllegalArgumentException("-D" + THREADS_PROPERTY + "=" + configured + " is not a thread count >= 1");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public int threads() {
        return parallel.threads();
    }

    /** The most activation memory held at once since this backend was made, in bytes. */
    public long peakActivationBytes() {
        return memory.peakBytes();
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    // ------------------------------------------------------------------ tensors

    @Override
    public Tensor empty(int... shape) {
        CpuMemoryPool.Allocation a = memory.allocate(Shapes.elementCount(shape) * Float.BYTES);
        return new Tensor(this, shape, DType.F32, a.segment(), a.release());
    }

    @Override
    public Tensor fromFloats(float[] values, int... shape) {
        if (values.length != Shapes.elementCount(shape)) {
            throw new IllegalArgumentException(values.length + " values do not fill shape " + Arrays.toString(shape));
        }
        Tensor t = empty(shape);
        MemorySegment.copy(values, 0, t.data(), ValueLayout.JAVA_FLOAT, 0, values.length);
        return t;
    }

    @Override
    public Tensor fromRaw(RawTensor raw) {
        int[] shape = Arrays.stream(raw.shape()).mapToInt(Math::toIntExact).toArray();
        if (raw.dtype() == DType.F32 && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            return new Tensor(this, shape, DType.F32, raw.data(), null);
        }
        if (!raw.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("tensor '" + raw.name() + "' is " + raw.dtype() + ", not a float type");
        }
        return fromFloats(raw.toFloatArray(), shape);
    }

    @Override
    public Tensor copy(Tensor tensor) {
        requireF32(tensor, "tensor");
        Tensor copy = empty(tensor.shape());
        copy.data().copyFrom(tensor.data());
        return copy;
    }

    @Override
    public float[] toFloatArray(Tensor tensor) {
        requireF32(tensor, "tensor");
        return tensor.data().toArray(ValueLayout.JAVA_FLOAT);
    }

    @Override
    public LinearWeight prepareLinear(RawTensor weight) {
        return PackedMatrix.pack(weight);
    }

    /** Packs a row-major {@code [out, in]} float matrix (for tests and benchmarks). */
    public LinearWeight prepareLinear(float[] values, int out, int in) {
        return PackedMatrix.pack(values, out, in);
    }

    // ------------------------------------------------------------------ ops

    @Override
    public Tensor linear(Tensor x, LinearWeight weight, Tensor bias) {
        if (!(weight instanceof PackedMatrix packed)) {
            throw new IllegalArgumentException("weight was not prepared by the CPU backend");
        }
        requireF32(x, "input");
        if (x.dim(-1) != packed.in) {
            throw new IllegalArgumentException("linear: input " + Shapes.toString(x.shape()) + " has " + x.dim(-1)
                    + " features, the weight expects " + packed.in);
        }
        if (bias != null && bias.elementCount() != packed.out) {
            throw new IllegalArgumentException("linear: bias has " + bias.elementCount() + " elements, expected " + packed.out);
        }
        int rows = Shapes.rows(x.shape());
        Tensor y = empty(Shapes.withLast(x.shape(), packed.out));
        GemmKernel.gemm(parallel, x.data(), rows, packed, bias == null ? null : bias.data(), y.data());
        return y;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        int width = x.dim(-1);
        if (gamma.elementCount() != width || beta.elementCount() != width) {
            throw new IllegalArgumentException("layer norm over " + width + " features got gamma " + Shapes.toString(gamma.shape())
                    + " and beta " + Shapes.toString(beta.shape()));
        }
        Tensor y = empty(x.shape());
        RowKernels.layerNorm(parallel, x.data(), gamma.data(), beta.data(), eps, y.data(), Shapes.rows(x.shape()), width);
        return y;
    }

    @Override
    public Tensor softmax(Tensor x) {
        Tensor y = empty(x.shape());
        RowKernels.softmax(parallel, x.data(), y.data(), Shapes.rows(x.shape()), x.dim(-1));
        return y;
    }

    @Override
    public Tensor activation(Tensor x, Activation activation) {
        Tensor y = empty(x.shape());
        PointwiseKernels.activation(parallel, activation, x.data(), y.data(), x.elementCount());
        return y;
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        requireSameShape(a, b, "add");
        Tensor y = empty(a.shape());
        PointwiseKernels.add(parallel, a.data(), b.data(), y.data(), a.elementCount());
        return y;
    }

    @Override
    public void addInPlace(Tensor a, Tensor b) {
        requireSameShape(a, b, "addInPlace");
        PointwiseKernels.add(parallel, a.data(), b.data(), a.data(), a.elementCount());
    }

    @Override
    public Tensor gatherRows(Tensor table, int[] indices) {
        if (table.rank() != 2) {
            throw new IllegalArgumentException("gatherRows needs a [rows, width] table, got " + Shapes.toString(table.shape()));
        }
        int rows = table.dim(0);
        int width = table.dim(1);
        Tensor y = empty(indices.length, width);
        long rowBytes = (long) width * Float.BYTES;
        for (int i = 0; i < indices.length; i++) {
            if (indices[i] < 0 || indices[i] >= rows) {
                y.close();
                throw new IndexOutOfBoundsException("row " + indices[i] + " of a table with " + rows + " rows");
            }
            MemorySegment.copy(table.data(), indices[i] * rowBytes, y.data(), i * rowBytes, rowBytes);
        }
        return y;
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3) {
            throw new IllegalArgumentException("attention takes [batch, tokens, heads * headDim] tensors");
        }
        int batch = q.dim(0);
        int queries = q.dim(1);
        int keys = k.dim(1);
        int width = q.dim(2);
        if (k.dim(0) != batch || v.dim(0) != batch || k.dim(2) != width || v.dim(2) != width || v.dim(1) != keys) {
            throw new IllegalArgumentException("attention: mismatched shapes q " + Shapes.toString(q.shape()) + ", k "
                    + Shapes.toString(k.shape()) + ", v " + Shapes.toString(v.shape()));
        }
        if (heads < 1 || width % heads != 0) {
            throw new IllegalArgumentException("attention: width " + width + " does not split into " + heads + " heads");
        }
        if (causal && queries != keys) {
            throw new IllegalArgumentException("causal attention needs as many queries as keys, got " + queries + " and " + keys);
        }
        Tensor y = empty(q.shape());
        AttentionKernel.attention(parallel, q.data(), k.data(), v.data(), y.data(), batch, queries, keys, heads,
                width / heads, scale, causal);
        return y;
    }

    private static void requireF32(Tensor t, String what) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(what + " must be F32, is " + t.dtype());
        }
    }

    private static void requireSameShape(Tensor a, Tensor b, String op) {
        if (!Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException(op + ": shapes differ, " + Shapes.toString(a.shape()) + " vs "
                    + Shapes.toString(b.shape()));
        }
    }

    @Override
    public void close() {
        parallel.close();
        memory.close();
    }
}
