package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.LinearWeight;
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
        kernels.gemm(parallel, new DenseRows(x.data(), packed.in), rows, packed, bias == null ? null : bias.data(), y.data());
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
        kernels.layerNorm(parallel, x.data(), gamma.data(), beta.data(), eps, y.data(), Shapes.rows(x.shape()), width);
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
        requireSameShape(a, b, "add");
        Tensor y = empty(a.shape());
        kernels.add(parallel, a.data(), b.data(), y.data(), a.elementCount());
        return y;
    }

    @Override
    public void addInPlace(Tensor a, Tensor b) {
        requireSameShape(a, b, "addInPlace");
        kernels.add(parallel, a.data(), b.data(), a.data(), a.elementCount());
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
        kernels.attention(parallel, q.data(), k.data(), v.data(), y.data(), batch, queries, keys, heads,
                width / heads, scale, causal);
        return y;
    }

    // ------------------------------------------------------------------ image ops (channels-last)

    @Override
    public ConvWeight prepareConv(RawTensor weight, DType heldAs) {
        return PackedMatrix.ofConvolution(weight, heldAs, packedWeightBytes);
    }

    @Override
    public Tensor conv2d(Tensor x, ConvWeight weight, Tensor bias, int stride, Padding padding) {
        requireF32(x, "input");
        if (x.rank() != 4) {
            throw new IllegalArgumentException("conv2d: input " + Shapes.toString(x.shape()) + " must be [batch, height, "
                    + "width, channels]");
        }
        return convolve(x, x.dim(1), x.dim(2), null, null, packed(weight, x), bias, stride, padding);
    }

    /** The resize is folded into the patch gathering: the resized input is never formed. */
    @Override
    public Tensor upsampleConv2d(Tensor x, int height, int width, ConvWeight weight, Tensor bias, Padding padding) {
        requireF32(x, "input");
        if (x.rank() != 4 || height < 1 || width < 1) {
            throw new IllegalArgumentException("upsampleConv2d takes [batch, height, width, channels] and a size >= 1, got "
                    + Shapes.toString(x.shape()) + " to " + height + "x" + width);
        }
        return convolve(x, height, width, LayoutKernels.nearestSources(x.dim(1), height),
                LayoutKernels.nearestSources(x.dim(2), width), packed(weight, x), bias, 1, padding);
    }

    private static PackedMatrix packed(ConvWeight weight, Tensor x) {
        if (!(weight instanceof PackedMatrix packed)) {
            throw new IllegalArgumentException("weight was not prepared by the CPU backend");
        }
        if (x.dim(3) != packed.channels) {
            throw new IllegalArgumentException("conv2d: input " + Shapes.toString(x.shape()) + " must be [batch, height, width, "
                    + packed.channels + "]");
        }
        return packed;
    }

    /** A convolution over {@code x} seen as {@code height x width} (through the resize maps when given). */
    private Tensor convolve(Tensor x, int height, int width, int[] sourceRows, int[] sourceColumns, PackedMatrix packed,
            Tensor bias, int stride, Padding padding) {
        if (stride < 1) {
            throw new IllegalArgumentException("conv2d: stride must be >= 1, got " + stride);
        }
        int batch = x.dim(0);
        int outHeight = (height + padding.top() + padding.bottom() - packed.kernelHeight) / stride + 1;
        int outWidth = (width + padding.left() + padding.right() - packed.kernelWidth) / stride + 1;
        if (outHeight < 1 || outWidth < 1) {
            throw new IllegalArgumentException("conv2d: a " + height + "x" + width + " input is smaller than the "
                    + packed.kernelHeight + "x" + packed.kernelWidth + " kernel");
        }
        if (bias != null && bias.elementCount() != packed.out) {
            throw new IllegalArgumentException("conv2d: bias has " + bias.elementCount() + " elements, expected " + packed.out);
        }
        Tensor y = empty(batch, outHeight, outWidth, packed.out);
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
        requireF32(x, "input");
        int channels = x.dim(-1);
        if (x.rank() < 2 || groups < 1 || channels % groups != 0) {
            throw new IllegalArgumentException("groupNorm: " + channels + " channels of " + Shapes.toString(x.shape())
                    + " do not split into " + groups + " groups");
        }
        if (gamma.elementCount() != channels || beta.elementCount() != channels) {
            throw new IllegalArgumentException("groupNorm over " + channels + " channels got gamma "
                    + Shapes.toString(gamma.shape()) + " and beta " + Shapes.toString(beta.shape()));
        }
        int batch = x.dim(0);
        int positions = Math.toIntExact(x.elementCount() / ((long) batch * channels));
        Tensor y = empty(x.shape());
        kernels.groupNorm(parallel, x.data(), gamma.data(), beta.data(), eps, silu, y.data(), batch, positions,
                channels, groups);
        return y;
    }

    @Override
    public Tensor upsampleNearest(Tensor x, int height, int width) {
        if (x.rank() != 4 || height < 1 || width < 1) {
            throw new IllegalArgumentException("upsampleNearest takes [batch, height, width, channels] and a size >= 1, got "
                    + Shapes.toString(x.shape()) + " to " + height + "x" + width);
        }
        Tensor y = empty(x.dim(0), height, width, x.dim(3));
        LayoutKernels.upsampleNearest(parallel, x.data(), y.data(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), height, width);
        return y;
    }

    @Override
    public Tensor concat(Tensor a, Tensor b) {
        if (a.rank() != b.rank() || !Arrays.equals(Arrays.copyOf(a.shape(), a.rank() - 1), Arrays.copyOf(b.shape(), b.rank() - 1))) {
            throw new IllegalArgumentException("concat: leading dimensions differ, " + Shapes.toString(a.shape()) + " and "
                    + Shapes.toString(b.shape()));
        }
        Tensor y = empty(Shapes.withLast(a.shape(), a.dim(-1) + b.dim(-1)));
        LayoutKernels.concatLast(parallel, a.data(), b.data(), y.data(), Shapes.rows(a.shape()), a.dim(-1), b.dim(-1));
        return y;
    }

    @Override
    public void addPerItem(Tensor x, Tensor v) {
        int batch = x.dim(0);
        int width = x.dim(-1);
        if (v.rank() != 2 || v.dim(0) != batch || v.dim(1) != width) {
            throw new IllegalArgumentException("addPerItem: " + Shapes.toString(v.shape()) + " does not match ["
                    + batch + ", " + width + "] of " + Shapes.toString(x.shape()));
        }
        int positions = Math.toIntExact(x.elementCount() / ((long) batch * width));
        kernels.addPerItem(parallel, x.data(), v.data(), batch, positions, width);
    }

    @Override
    public Tensor geglu(Tensor x) {
        int doubled = x.dim(-1);
        if (doubled % 2 != 0) {
            throw new IllegalArgumentException("geglu needs an even last dimension, got " + Shapes.toString(x.shape()));
        }
        Tensor y = empty(Shapes.withLast(x.shape(), doubled / 2));
        kernels.geglu(parallel, x.data(), y.data(), Shapes.rows(x.shape()), doubled / 2);
        return y;
    }

    @Override
    public Tensor transpose(Tensor x) {
        if (x.rank() != 3) {
            throw new IllegalArgumentException("transpose takes [batch, rows, columns], got " + Shapes.toString(x.shape()));
        }
        Tensor y = empty(x.dim(0), x.dim(2), x.dim(1));
        LayoutKernels.transpose(parallel, x.data(), y.data(), x.dim(0), x.dim(1), x.dim(2));
        return y;
    }

    @Override
    public Tensor narrowLast(Tensor x, int from, int length) {
        int width = x.dim(-1);
        if (from < 0 || length < 0 || from + length > width) {
            throw new IllegalArgumentException("narrowLast: [" + from + ", " + (from + length) + ") is outside the "
                    + width + " columns of " + Shapes.toString(x.shape()));
        }
        Tensor y = empty(Shapes.withLast(x.shape(), length));
        LayoutKernels.narrowLast(parallel, x.data(), y.data(), Shapes.rows(x.shape()), width, from, length);
        return y;
    }

    @Override
    public Tensor scale(Tensor x, float factor) {
        Tensor y = empty(x.shape());
        kernels.scale(parallel, x.data(), y.data(), x.elementCount(), factor);
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
