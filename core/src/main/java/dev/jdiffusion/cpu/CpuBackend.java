package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.OpShapes;
import dev.jdiffusion.tensor.Padding;
import dev.jdiffusion.tensor.Shapes;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The CPU backend: Vector API kernels on one thread pool, activations in pooled off-heap memory. On a JVM
 * started without {@code --add-modules jdk.incubator.vector} it runs scalar kernels and warns once.
 */
public final class CpuBackend implements Backend {
    /** System property that sets the default thread count. */
    public static final String THREADS_PROPERTY = "jdiffusion.threads";

    private final Parallel parallel;
    private final CpuMemoryPool memory = new CpuMemoryPool();
    private final CpuKernels kernels;
    private final AtomicLong packedWeightBytes = new AtomicLong();

    /** A backend using {@code threads} threads (the calling thread included). */
    public CpuBackend(int threads) {
        this(threads, KernelChoice.kernels());
    }

    CpuBackend(int threads, CpuKernels kernels) {
        this.parallel = new Parallel(threads);
        this.kernels = kernels;
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

    /** Which kernels run: {@code "vector"}, or {@code "scalar"} without the Vector API module. */
    public String kernels() {
        return kernels.name();
    }

    /** The most activation memory held at once since this backend was made, in bytes. */
    public long peakActivationBytes() {
        return memory.peakBytes();
    }

    /**
     * The bytes held now in packed weight panels: the weights used since they were loaded or last
     * {@linkplain LinearWeight#unload() unloaded}. Stored weights not in use are only mapped from their file.
     */
    public long packedWeightBytes() {
        return packedWeightBytes.get();
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public void releaseCachedMemory() {
        memory.trim();
    }

    @Override
    public void releaseCachedMemoryLargerThan(long bytes) {
        memory.trimLargerThan(bytes);
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
        Tensor t = empty(shape);
        raw.copyFloatsInto(t.data());
        return t;
    }

    @Override
    public Tensor copy(Tensor tensor) {
        OpShapes.requireF32(tensor, "tensor");
        Tensor copy = empty(tensor.shape());
        copy.data().copyFrom(tensor.data());
        return copy;
    }

    @Override
    public Tensor repeatBatch(Tensor x, int times) {
        Tensor y = empty(OpShapes.repeatBatch(x, times));
        long bytes = x.elementCount() * Float.BYTES;
        parallel.forEach(times, i -> MemorySegment.copy(x.data(), 0, y.data(), i * bytes, bytes));
        return y;
    }

    @Override
    public float[] toFloatArray(Tensor tensor) {
        OpShapes.requireF32(tensor, "tensor");
        return tensor.data().toArray(ValueLayout.JAVA_FLOAT);
    }

    @Override
    public LinearWeight prepareLinear(RawTensor weight, DType heldAs) {
        return PackedMatrix.of(weight, heldAs, packedWeightBytes);
    }

    /** Packs a row-major {@code [out, in]} float matrix (for tests and benchmarks). */
    public LinearWeight prepareLinear(float[] values, int out, int in) {
        return PackedMatrix.of(values, out, in, packedWeightBytes);
    }

    // ------------------------------------------------------------------ ops

    @Override
    public Tensor linear(Tensor x, LinearWeight weight, Tensor bias) {
        if (!(weight instanceof PackedMatrix packed)) {
            throw new IllegalArgumentException("weight was not prepared by the CPU backend");
        }
        Tensor y = empty(OpShapes.linear(x, packed.in, packed.out, bias));
        int rows = Shapes.rows(x.shape());
        kernels.gemm(parallel, new DenseRows(x.data(), packed.in), rows, packed, bias == null ? null : bias.data(), y.data());
        return y;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        OpShapes.layerNorm(x, gamma, beta);
        Tensor y = empty(x.shape());
        kernels.layerNorm(parallel, x.data(), gamma.data(), beta.data(), eps, y.data(), Shapes.rows(x.shape()), x.dim(-1));
        return y;
    }

    @Override
    public Tensor softmax(Tensor x) {
        Tensor y = empty(x.shape());
        kernels.softmax(parallel, x.data(), y.data(), Shapes.rows(x.shape()), x.dim(-1));
        return y;
    }

    @Override
    public Tensor activation(Tensor x, Activation activation) {
        Tensor y = empty(x.shape());
        kernels.activation(parallel, activation, x.data(), y.data(), x.elementCount());
        return y;
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        OpShapes.requireSameShape(a, b, "add");
        Tensor y = empty(a.shape());
        kernels.add(parallel, a.data(), b.data(), y.data(), a.elementCount());
        return y;
    }

    @Override
    public void addInPlace(Tensor a, Tensor b) {
        OpShapes.requireSameShape(a, b, "addInPlace");
        kernels.add(parallel, a.data(), b.data(), a.data(), a.elementCount());
    }

    @Override
    public Tensor gatherRows(Tensor table, int[] indices) {
        OpShapes.gatherTable(table);
        OpShapes.gatherIndices(table, indices);
        int width = table.dim(1);
        Tensor y = empty(indices.length, width);
        long rowBytes = (long) width * Float.BYTES;
        for (int i = 0; i < indices.length; i++) {
            MemorySegment.copy(table.data(), indices[i] * rowBytes, y.data(), i * rowBytes, rowBytes);
        }
        return y;
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        OpShapes.AttentionShape shape = OpShapes.attention(q, k, v, heads, causal);
        Tensor y = empty(q.shape());
        kernels.attention(parallel, q.data(), k.data(), v.data(), y.data(), shape.batch(), shape.queries(), shape.keys(),
                heads, shape.width() / heads, scale, causal);
        return y;
    }

    // ------------------------------------------------------------------ image ops (channels-last)

    @Override
    public ConvWeight prepareConv(RawTensor weight, DType heldAs) {
        return PackedMatrix.ofConvolution(weight, heldAs, packedWeightBytes);
    }

    @Override
    public Tensor conv2d(Tensor x, ConvWeight weight, Tensor bias, int stride, Padding padding) {
        return convolve(x, x.dim(1), x.dim(2), null, null, packed(weight, x), bias, stride, padding);
    }

    /** The resize is folded into the patch gathering: the resized input is never formed. */
    @Override
    public Tensor upsampleConv2d(Tensor x, int height, int width, ConvWeight weight, Tensor bias, Padding padding) {
        OpShapes.resize(x, height, width, "upsampleConv2d");
        return convolve(x, height, width, LayoutKernels.nearestSources(x.dim(1), height),
                LayoutKernels.nearestSources(x.dim(2), width), packed(weight, x), bias, 1, padding);
    }

    private static PackedMatrix packed(ConvWeight weight, Tensor x) {
        if (!(weight instanceof PackedMatrix packed)) {
            throw new IllegalArgumentException("weight was not prepared by the CPU backend");
        }
        OpShapes.convInput(x, packed);
        return packed;
    }

    /** A convolution over {@code x} seen as {@code height x width} (through the resize maps when given). */
    private Tensor convolve(Tensor x, int height, int width, int[] sourceRows, int[] sourceColumns, PackedMatrix packed,
            Tensor bias, int stride, Padding padding) {
        int[] outShape = OpShapes.convOutput(x, height, width, packed, bias, stride, padding);
        int batch = outShape[0];
        int outHeight = outShape[1];
        int outWidth = outShape[2];
        Tensor y = empty(outShape);
        MemorySegment biasData = bias == null ? null : bias.data();
        if (sourceRows == null && packed.kernelHeight == 1 && packed.kernelWidth == 1 && stride == 1
                && padding.equals(Padding.of(0))) {
            kernels.gemm(parallel, new DenseRows(x.data(), packed.in), batch * outHeight * outWidth, packed, biasData,
                    y.data());
        } else {
            kernels.convolve(parallel, memory, new ConvPatches(x.data(), height, width, packed.channels, packed.kernelHeight,
                    packed.kernelWidth, stride, padding.top(), padding.left(), outHeight, outWidth, sourceRows,
                    sourceColumns, x.dim(1), x.dim(2)), batch, packed, biasData, y.data());
        }
        return y;
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        OpShapes.groupNorm(x, groups, gamma, beta);
        int channels = x.dim(-1);
        int batch = x.dim(0);
        int positions = Math.toIntExact(x.elementCount() / ((long) batch * channels));
        Tensor y = empty(x.shape());
        kernels.groupNorm(parallel, x.data(), gamma.data(), beta.data(), eps, silu, y.data(), batch, positions,
                channels, groups);
        return y;
    }

    @Override
    public Tensor upsampleNearest(Tensor x, int height, int width) {
        OpShapes.resize(x, height, width, "upsampleNearest");
        Tensor y = empty(x.dim(0), height, width, x.dim(3));
        LayoutKernels.upsampleNearest(parallel, x.data(), y.data(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), height, width);
        return y;
    }

    @Override
    public Tensor concat(Tensor a, Tensor b) {
        Tensor y = empty(OpShapes.concat(a, b));
        LayoutKernels.concatLast(parallel, a.data(), b.data(), y.data(), Shapes.rows(a.shape()), a.dim(-1), b.dim(-1));
        return y;
    }

    @Override
    public void addPerItem(Tensor x, Tensor v) {
        int positions = OpShapes.addPerItem(x, v);
        kernels.addPerItem(parallel, x.data(), v.data(), x.dim(0), positions, x.dim(-1));
    }

    @Override
    public Tensor geglu(Tensor x) {
        Tensor y = empty(OpShapes.geglu(x));
        kernels.geglu(parallel, x.data(), y.data(), Shapes.rows(x.shape()), y.dim(-1));
        return y;
    }

    @Override
    public Tensor transpose(Tensor x) {
        Tensor y = empty(OpShapes.transpose(x));
        LayoutKernels.transpose(parallel, x.data(), y.data(), x.dim(0), x.dim(1), x.dim(2));
        return y;
    }

    @Override
    public Tensor narrowLast(Tensor x, int from, int length) {
        Tensor y = empty(OpShapes.narrowLast(x, from, length));
        LayoutKernels.narrowLast(parallel, x.data(), y.data(), Shapes.rows(x.shape()), x.dim(-1), from, length);
        return y;
    }

    @Override
    public Tensor scale(Tensor x, float factor) {
        Tensor y = empty(x.shape());
        kernels.scale(parallel, x.data(), y.data(), x.elementCount(), factor);
        return y;
    }

    @Override
    public void close() {
        parallel.close();
        memory.close();
    }
}
