package dev.jdiffusion.cuda;

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
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;

/**
 * The CUDA backend: tensors in device memory from a caching allocator, products and convolutions through cuBLAS,
 * everything else in the kernels of {@link KernelSources}, all on one stream, so ops queue up without waiting and
 * the host waits only where it reads a result ({@link #toFloatArray}).
 *
 * <p>Precision follows the weights. Weights held in F32 give single-precision products throughout (no TF32), which
 * agree with the CPU backend to rounding. Weights held in F16 or BF16 run the products on the tensor cores in that
 * type with F32 sums: the activations are rounded to it on the way in (as a model run in {@code .half()} does), and
 * attention, which has no weights, computes its two products in the type of the 16-bit weights this backend holds,
 * fused into one kernel ({@link FlashAttention}) for heads of up to 160. Everything else (norms, softmax,
 * activations, the tensors between ops) stays F32.
 */
public final class CudaBackend implements Backend {
    /** The most patch-matrix memory a convolution takes at once; larger outputs are gathered in row chunks. */
    private static final long PATCH_BYTES = 256L << 20;
    /** The most attention-score memory at once; longer sequences are computed in chunks of queries. */
    private static final long SCORE_BYTES = 256L << 20;
    private static final int ROW_THREADS = 256;
    /** The blocks a group norm's statistics are spread over: four per SM of an H100. */
    private static final long GROUP_NORM_BLOCKS = 528;
    /** The widest group norm its kernels take (MAX_CHANNELS in norms.cu); Stable Diffusion's widest is 2560. */
    private static final int GROUP_NORM_MAX_CHANNELS = 4096;
    /** The GPU the calling thread has made current, so that each thread binds to it once. */
    private static final ThreadLocal<Integer> BOUND_GPU = ThreadLocal.withInitial(() -> -1);

    private final CudaRuntime.Gpu gpu;
    private final Device device;
    private final CUstream_st stream = new CUstream_st();
    private final DeviceMemory memory = new DeviceMemory();
    private final KernelLibrary kernels;
    private final Cublas blas;
    private final CublasLt blasLt;
    private volatile DType attentionType = DType.F32;

    CudaBackend(CudaRuntime.Gpu gpu) {
        this.gpu = gpu;
        this.device = Device.cuda(gpu.index());
        bind();
        CudaCalls.check(cudart.cudaStreamCreateWithFlags(stream, cudart.cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        this.kernels = new KernelLibrary(gpu.architecture(), stream);
        this.blas = new Cublas(stream);
        this.blasLt = new CublasLt(stream, memory);
    }

    /** The GPU this backend runs on. */
    public String gpuName() {
        return gpu.toString();
    }

    /** The most device memory this backend has held at once (tensors, weights and its cache), in bytes. */
    public long peakDeviceBytes() {
        return memory.peakBytes();
    }

    @Override
    public void synchronize() {
        bind();
        CudaCalls.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    @Override
    public Device device() {
        return device;
    }

    private void bind() {
        if (BOUND_GPU.get() != gpu.index()) {
            CudaCalls.check(cudart.cudaSetDevice(gpu.index()), "cudaSetDevice(" + gpu.index() + ")");
            BOUND_GPU.set(gpu.index());
        }
    }

    // ------------------------------------------------------------------ tensors

    @Override
    public Tensor empty(int... shape) {
        bind();
        long bytes = Shapes.elementCount(shape) * Float.BYTES;
        long address = bytes == 0 ? 0 : memory.allocate(bytes);
        Runnable release = bytes == 0 ? null : () -> memory.free(address, bytes);
        return new Tensor(this, shape, DType.F32, MemorySegment.ofAddress(address).reinterpret(bytes), release);
    }

    private static long address(Tensor t) {
        return t.data().address();
    }

    /** The rows of a tensor seen as {@code [rows, last dimension]}. */
    private static long rowsOf(Tensor t) {
        int width = t.dim(-1);
        return width == 0 ? 0 : t.elementCount() / width;
    }

    @Override
    public Tensor fromFloats(float[] values, int... shape) {
        if (values.length != Shapes.elementCount(shape)) {
            throw new IllegalArgumentException(values.length + " values do not fill shape " + Arrays.toString(shape));
        }
        Tensor t = empty(shape);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(ValueLayout.JAVA_FLOAT, Math.max(1, values.length));
            MemorySegment.copy(values, 0, host, ValueLayout.JAVA_FLOAT, 0, values.length);
            upload(host, address(t), (long) values.length * Float.BYTES);
        }
        return t;
    }

    @Override
    public Tensor fromRaw(RawTensor raw) {
        if (!raw.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("tensor '" + raw.name() + "' is " + raw.dtype() + ", not a float type");
        }
        Tensor t = empty(Arrays.stream(raw.shape()).mapToInt(Math::toIntExact).toArray());
        try (Arena arena = Arena.ofConfined()) {
            long bytes = raw.elementCount() * Float.BYTES;
            MemorySegment host = arena.allocate(Math.max(1, bytes), 64);
            raw.copyFloatsInto(host);
            upload(host, address(t), bytes);
        }
        return t;
    }

    /** Copies host memory to the device and waits, so the host memory may be freed at once. */
    private void upload(MemorySegment host, long device, long bytes) {
        if (bytes == 0) {
            return;
        }
        CudaCalls.check(cudart.cudaMemcpyAsync(new DevicePointer(device), new DevicePointer(host.address()), bytes,
                cudart.cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (to the GPU)");
        synchronize();
    }

    @Override
    public Tensor copy(Tensor tensor) {
        OpShapes.requireF32(tensor, "tensor");
        Tensor copy = empty(tensor.shape());
        copyOnDevice(address(tensor), address(copy), tensor.elementCount() * Float.BYTES);
        return copy;
    }

    @Override
    public Tensor repeatBatch(Tensor x, int times) {
        Tensor y = empty(OpShapes.repeatBatch(x, times));
        long bytes = x.elementCount() * Float.BYTES;
        for (int i = 0; i < times; i++) {
            copyOnDevice(address(x), address(y) + i * bytes, bytes);
        }
        return y;
    }

    private void copyOnDevice(long from, long to, long bytes) {
        if (bytes > 0) {
            CudaCalls.check(cudart.cudaMemcpyAsync(new DevicePointer(to), new DevicePointer(from), bytes,
                    cudart.cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync (on the GPU)");
        }
    }

    @Override
    public float[] toFloatArray(Tensor tensor) {
        OpShapes.requireF32(tensor, "tensor");
        bind();
        long bytes = tensor.elementCount() * Float.BYTES;
        if (bytes == 0) {
            return new float[0];
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, 64);
            CudaCalls.check(cudart.cudaMemcpyAsync(new DevicePointer(host.address()), new DevicePointer(address(tensor)),
                    bytes, cudart.cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (from the GPU)");
            synchronize();
            return host.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    // ------------------------------------------------------------------ weights

    @Override
    public LinearWeight prepareLinear(RawTensor weight, DType heldAs) {
        if (weight.rank() < 2) {
            throw new IllegalArgumentException("weight '" + weight.name() + "' must have at least 2 dimensions, has "
                    + Arrays.toString(weight.shape()));
        }
        int out = Math.toIntExact(weight.dim(0));
        int in = Math.toIntExact(weight.elementCount() / out);
        return upload(weight, weight.toFloatArray(), heldType(weight, heldAs), out, in, 1, 1);
    }

    @Override
    public ConvWeight prepareConv(RawTensor weight, DType heldAs) {
        if (weight.rank() != 4) {
            throw new IllegalArgumentException("convolution weight '" + weight.name() + "' must be [out, in, kh, kw], is "
                    + Arrays.toString(weight.shape()));
        }
        int out = Math.toIntExact(weight.dim(0));
        int channels = Math.toIntExact(weight.dim(1));
        int kernelHeight = Math.toIntExact(weight.dim(2));
        int kernelWidth = Math.toIntExact(weight.dim(3));
        float[] stored = weight.toFloatArray();
        // [out, channels, kh, kw] -> [out, kh, kw, channels], the column order of the patch matrix
        float[] values = new float[stored.length];
        int taps = kernelHeight * kernelWidth;
        for (int o = 0; o < out; o++) {
            for (int c = 0; c < channels; c++) {
                for (int t = 0; t < taps; t++) {
                    values[(o * taps + t) * channels + c] = stored[(o * channels + c) * taps + t];
                }
            }
        }
        return upload(weight, values, heldType(weight, heldAs), out, channels, kernelHeight, kernelWidth);
    }

    private static DType heldType(RawTensor weight, DType heldAs) {
        if (heldAs != null) {
            return Backend.requireHeldType(heldAs);
        }
        if (!weight.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("weight '" + weight.name() + "' is " + weight.dtype() + ", not a float type");
        }
        return weight.dtype() == DType.F16 || weight.dtype() == DType.BF16 ? weight.dtype() : DType.F32;
    }

    /** Uploads {@code values} as {@code type}, rounded to nearest even for the 16-bit types. */
    private DeviceWeight upload(RawTensor weight, float[] values, DType type, int out, int channels, int kernelHeight,
            int kernelWidth) {
        bind();
        long bytes = (long) values.length * type.byteSize();
        long address = memory.allocate(bytes);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, 64);
            switch (type) {
                case F32 -> MemorySegment.copy(values, 0, host, ValueLayout.JAVA_FLOAT, 0, values.length);
                case F16 -> {
                    for (int i = 0; i < values.length; i++) {
                        host.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(values[i]));
                    }
                }
                default -> {
                    for (int i = 0; i < values.length; i++) {
                        host.setAtIndex(ValueLayout.JAVA_SHORT, i, DType.bfloat16Bits(values[i]));
                    }
                }
            }
            upload(host, address, bytes);
        } catch (RuntimeException e) {
            memory.free(address, bytes);
            throw new IllegalStateException("cannot upload weight '" + weight.name() + "': " + e.getMessage(), e);
        }
        if (type != DType.F32) {
            attentionType = type;
        }
        return new DeviceWeight(memory, address, type, out, channels, kernelHeight, kernelWidth);
    }

    private static DeviceWeight deviceWeight(LinearWeight weight) {
        if (!(weight instanceof DeviceWeight w)) {
            throw new IllegalArgumentException("weight was not prepared by the CUDA backend");
        }
        return w;
    }

    // ------------------------------------------------------------------ ops

    @Override
    public Tensor linear(Tensor x, LinearWeight weight, Tensor bias) {
        return linear(x, weight, bias, null);
    }

    @Override
    public Tensor linear(Tensor x, LinearWeight weight, Tensor bias, Tensor residual) {
        DeviceWeight w = deviceWeight(weight);
        int[] shape = OpShapes.linear(x, w.inFeatures(), w.outFeatures(), bias);
        OpShapes.residual(residual, shape, "linear");
        Tensor y = empty(shape);
        int rows = Shapes.rows(x.shape());
        multiply(address(x), rows, w, bias, residual, address(y));
        return y;
    }

    /**
     * {@code y[rows, out] = x[rows, in] W^T + bias + residual}, in the weight's type (the rows rounded to it first);
     * {@code residual} is a tensor of y's shape or null.
     */
    private void multiply(long x, long rows, DeviceWeight w, Tensor bias, Tensor residual, long y) {
        if (rows == 0) {
            return;
        }
        long residualAddress = residual == null ? 0 : address(residual);
        if (w.type() == DType.F32) {
            product(x, rows, w, bias, residualAddress, y);
            return;
        }
        long n = rows * w.inFeatures();
        long rounded = roundedCopy(x, n, w.type());
        product(rounded, rows, w, bias, residualAddress, y);
        memory.free(rounded, n * w.type().byteSize()); // the stream runs the product before any later use of the block
    }

    /**
     * {@code y[rows, out] = operand[rows, in] W^T + bias + residual}, the operand in the weight's type and the
     * residual rows at {@code residual} (0 for none): both added as the product stores its sums where cuBLASLt has
     * an algorithm for the shape, else by passes of their own.
     */
    private void product(long operand, long rows, DeviceWeight w, Tensor bias, long residual, long y) {
        int m = Math.toIntExact(rows);
        long biasAddress = bias == null ? 0 : address(bias);
        if ((bias != null || residual != 0) && blasLt.multiplyByTransposed(operand, w.address(), biasAddress, residual, y,
                m, w.inFeatures(), w.outFeatures(), w.type())) {
            return;
        }
        blas.multiplyByTransposed(operand, w.address(), y, m, w.inFeatures(), w.outFeatures(), w.type());
        if (bias != null) {
            kernels.launchRows("add_per_item_f32", rows, w.outFeatures(), y, biasAddress, rows, w.outFeatures(), rows);
        }
        if (residual != 0) {
            long n = rows * w.outFeatures();
            kernels.launchElementwise("add_f32", n, y, residual, y, n);
        }
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        OpShapes.layerNorm(x, gamma, beta);
        Tensor y = empty(x.shape());
        int rows = Shapes.rows(x.shape());
        if (rows > 0) {
            int blocks = (int) Math.min(Math.ceilDiv(rows, ROW_THREADS / 32), 65536); // a warp per row
            kernels.launch("layer_norm_f32", blocks, 1, 1, ROW_THREADS, 1, address(x), address(gamma), address(beta), eps,
                    address(y), x.dim(-1), (long) rows);
        }
        return y;
    }

    @Override
    public Tensor softmax(Tensor x) {
        Tensor y = empty(x.shape());
        int rows = Shapes.rows(x.shape());
        if (rows > 0) {
            kernels.launch("softmax_f32", rows, 1, 1, ROW_THREADS, 1, address(x), address(y), x.dim(-1));
        }
        return y;
    }

    @Override
    public Tensor activation(Tensor x, Activation activation) {
        if (activation == Activation.IDENTITY) {
            return copy(x);
        }
        Tensor y = empty(x.shape());
        String kernel = switch (activation) {
            case GELU -> "gelu_f32";
            case QUICK_GELU -> "quick_gelu_f32";
            case SILU -> "silu_f32";
            case IDENTITY -> throw new AssertionError();
        };
        kernels.launchElementwise(kernel, x.elementCount(), address(x), address(y), x.elementCount());
        return y;
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        OpShapes.requireSameShape(a, b, "add");
        Tensor y = empty(a.shape());
        kernels.launchElementwise("add_f32", a.elementCount(), address(a), address(b), address(y), a.elementCount());
        return y;
    }

    @Override
    public void addInPlace(Tensor a, Tensor b) {
        OpShapes.requireSameShape(a, b, "addInPlace");
        bind();
        kernels.launchElementwise("add_f32", a.elementCount(), address(a), address(b), address(a), a.elementCount());
    }

    @Override
    public Tensor gatherRows(Tensor table, int[] indices) {
        OpShapes.gatherTable(table);
        OpShapes.gatherIndices(table, indices);
        Tensor y = empty(indices.length, table.dim(1));
        long rowBytes = (long) table.dim(1) * Float.BYTES;
        for (int i = 0; i < indices.length; i++) {
            copyOnDevice(address(table) + indices[i] * rowBytes, address(y) + i * rowBytes, rowBytes);
        }
        return y;
    }

    /**
     * Per batch item and chunk of queries: the scaled scores of every head in one batched product (F32), their
     * softmax (into the products' type), and the probabilities times the values in a second batched product,
     * written straight into the heads' columns of the output.
     */
    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        OpShapes.AttentionShape shape = OpShapes.attention(q, k, v, heads, causal);
        int batch = shape.batch();
        int queries = shape.queries();
        int keys = shape.keys();
        int width = shape.width();
        int headDim = width / heads;
        Tensor y = empty(q.shape());
        if (y.elementCount() == 0 || keys == 0) {
            return y;
        }
        DType type = attentionType;
        if (FlashAttention.serves(type, headDim)) {
            FlashAttention.launch(kernels, memory, type, address(q), address(k), address(v), address(y), batch, queries, keys,
                    heads, headDim, scale, causal);
            return y;
        }
        int element = type.byteSize();
        long qs = operand(q, type);
        long ks = operand(k, type);
        long vs = operand(v, type);
        int chunk = (int) Math.max(1, Math.min(queries, SCORE_BYTES / ((long) heads * keys * Float.BYTES)));
        long scoreBytes = (long) heads * chunk * keys * Float.BYTES;
        long scores = memory.allocate(scoreBytes);
        long probabilityBytes = (long) heads * chunk * keys * element;
        long probabilities = type == DType.F32 ? scores : memory.allocate(probabilityBytes);
        String softmax = "score_softmax_" + suffix(type);
        for (int b = 0; b < batch; b++) {
            for (int first = 0; first < queries; first += chunk) {
                int rows = Math.min(chunk, queries - first);
                long queryRows = qs + ((long) b * queries + first) * width * element;
                long keyRows = ks + (long) b * keys * width * element;
                long valueRows = vs + (long) b * keys * width * element;
                long outRows = address(y) + ((long) b * queries + first) * width * Float.BYTES;
                blas.multiplyPerHead(heads, rows, keys, headDim, scale, queryRows, width, headDim, keyRows, width, headDim,
                        true, scores, keys, (long) rows * keys, type);
                kernels.launch(softmax, heads * rows, 1, 1, ROW_THREADS, 1, scores, probabilities, keys, rows, first,
                        causal ? 1 : 0);
                blas.multiplyPerHead(heads, rows, headDim, keys, 1f, probabilities, keys, (long) rows * keys, valueRows,
                        width, headDim, false, outRows, width, headDim, type);
            }
        }
        memory.free(scores, scoreBytes);
        if (probabilities != scores) {
            memory.free(probabilities, probabilityBytes);
        }
        freeOperand(q, qs, type);
        freeOperand(k, ks, type);
        freeOperand(v, vs, type);
        return y;
    }

    /** The tensor as a product operand of {@code type}: itself for F32, a rounded copy for the 16-bit types. */
    private long operand(Tensor t, DType type) {
        if (type == DType.F32) {
            return address(t);
        }
        return roundedCopy(address(t), t.elementCount(), type);
    }

    /** {@code n} floats at {@code from} rounded to the 16-bit {@code type}, in a new block of device memory. */
    private long roundedCopy(long from, long n, DType type) {
        long rounded = memory.allocate(n * type.byteSize());
        // a thread rounds eight values at a time (elementwise.cu), so an eighth of the threads cover the block
        kernels.launchElementwise(type == DType.F16 ? "f32_to_f16" : "f32_to_bf16", Math.ceilDiv(n, 8), from, rounded, n);
        return rounded;
    }

    private void freeOperand(Tensor t, long operand, DType type) {
        if (type != DType.F32) {
            memory.free(operand, t.elementCount() * type.byteSize());
        }
    }

    private static String suffix(DType type) {
        return switch (type) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            default -> throw new IllegalArgumentException("no kernels for " + type);
        };
    }

    // ------------------------------------------------------------------ image ops (channels-last)

    /**
     * A 1x1 convolution is the product itself; any other gathers the patches of a chunk of output pixels (at most
     * {@link #PATCH_BYTES}) in the weight's type and multiplies them by the weight, chunk after chunk.
     */
    @Override
    public Tensor conv2d(Tensor x, ConvWeight weight, Tensor bias, int stride, Padding padding) {
        return conv2d(x, weight, bias, stride, padding, null);
    }

    @Override
    public Tensor conv2d(Tensor x, ConvWeight weight, Tensor bias, int stride, Padding padding, Tensor residual) {
        DeviceWeight w = deviceWeight(weight);
        OpShapes.convInput(x, w);
        int[] outShape = OpShapes.convOutput(x, x.dim(1), x.dim(2), w, bias, stride, padding);
        OpShapes.residual(residual, outShape, "conv2d");
        Tensor y = empty(outShape);
        long pixels = (long) outShape[0] * outShape[1] * outShape[2];
        if (w.kernelHeight() == 1 && w.kernelWidth() == 1 && stride == 1 && padding.equals(Padding.of(0))) {
            multiply(address(x), pixels, w, bias, residual, address(y));
        } else if (pixels > 0) {
            long columns = w.inFeatures();
            int element = w.type().byteSize();
            long chunk = Math.max(1, Math.min(pixels, PATCH_BYTES / (columns * element)));
            long patchBytes = chunk * columns * element;
            long patches = memory.allocate(patchBytes);
            String gather = "patches_" + suffix(w.type());
            int channels = x.dim(3);
            boolean eights = channels % 8 == 0 && address(x) % 16 == 0; // the kernel's 16-byte loads
            for (long first = 0; first < pixels; first += chunk) {
                long rows = Math.min(chunk, pixels - first);
                kernels.launchRows(gather, rows, eights ? channels / 8 : channels, address(x), patches, x.dim(1), x.dim(2),
                        channels, w.kernelHeight(), w.kernelWidth(), stride, padding.top(), padding.left(), outShape[1],
                        outShape[2], first, rows, eights ? 1 : 0);
                long offset = first * w.outFeatures() * Float.BYTES;
                product(patches, rows, w, bias, residual == null ? 0 : address(residual) + offset, address(y) + offset);
            }
            memory.free(patches, patchBytes);
        }
        return y;
    }

    /**
     * Statistics in two passes of many blocks each (see norms.cu): the positions of each item are cut into enough
     * slices to give every SM work, even for one item of 32 groups.
     */
    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        OpShapes.groupNorm(x, groups, gamma, beta);
        int batch = x.dim(0);
        int channels = x.dim(-1);
        if (channels > GROUP_NORM_MAX_CHANNELS) {
            throw new IllegalArgumentException("groupNorm on the GPU takes at most " + GROUP_NORM_MAX_CHANNELS
                    + " channels, got " + Shapes.toString(x.shape()));
        }
        long positions = x.elementCount() / ((long) batch * channels);
        Tensor y = empty(x.shape());
        if (y.elementCount() == 0) {
            return y;
        }
        int slices = (int) Math.max(1, Math.min(positions, GROUP_NORM_BLOCKS / batch));
        int count = batch * groups;
        long partialBytes = (long) count * slices * Float.BYTES;
        long perChannelBytes = (long) batch * channels * Float.BYTES;
        long partial = memory.allocate(partialBytes);
        long means = memory.allocate((long) count * Float.BYTES);
        long channelMeans = memory.allocate(perChannelBytes);
        long channelScales = memory.allocate(perChannelBytes);
        float elements = (float) (positions * (channels / groups));
        int warpBlocks = Math.ceilDiv(count, ROW_THREADS / 32); // a warp per (group, item)
        kernels.launch("group_norm_sums", slices, batch, 1, ROW_THREADS, 1, address(x), partial, positions, channels, groups,
                slices);
        kernels.launch("group_norm_reduce", warpBlocks, 1, 1, ROW_THREADS, 1, partial, means, count, slices, elements);
        kernels.launch("group_norm_squares", slices, batch, 1, ROW_THREADS, 1, address(x), means, partial, positions,
                channels, groups, slices);
        kernels.launch("group_norm_finish", warpBlocks, 1, 1, ROW_THREADS, 1, partial, means, address(gamma), channelMeans,
                channelScales, count, slices, elements, eps, channels, groups);
        long rows = batch * positions;
        boolean fours = channels % 4 == 0 && address(x) % 16 == 0 && address(y) % 16 == 0 && address(beta) % 16 == 0;
        kernels.launchRows("group_norm_apply", rows, fours ? channels / 4 : channels, address(x), channelMeans,
                channelScales, address(beta), silu ? 1 : 0, address(y), positions, channels, rows, fours ? 1 : 0);
        memory.free(partial, partialBytes);
        memory.free(means, (long) count * Float.BYTES);
        memory.free(channelMeans, perChannelBytes);
        memory.free(channelScales, perChannelBytes);
        return y;
    }

    @Override
    public Tensor upsampleNearest(Tensor x, int height, int width) {
        OpShapes.resize(x, height, width, "upsampleNearest");
        Tensor y = empty(x.dim(0), height, width, x.dim(3));
        long pixels = rowsOf(y);
        kernels.launchRows("upsample_nearest_f32", pixels, x.dim(3), address(x), address(y), x.dim(1), x.dim(2), x.dim(3),
                height, width, pixels);
        return y;
    }

    @Override
    public Tensor concat(Tensor a, Tensor b) {
        Tensor y = empty(OpShapes.concat(a, b));
        long rows = rowsOf(y);
        kernels.launchRows("concat_last_f32", rows, y.dim(-1), address(a), address(b), address(y), a.dim(-1), b.dim(-1),
                rows);
        return y;
    }

    @Override
    public void addPerItem(Tensor x, Tensor v) {
        long positions = OpShapes.addPerItem(x, v);
        bind();
        long rows = rowsOf(x);
        kernels.launchRows("add_per_item_f32", rows, x.dim(-1), address(x), address(v), positions, x.dim(-1), rows);
    }

    @Override
    public Tensor geglu(Tensor x) {
        Tensor y = empty(OpShapes.geglu(x));
        long rows = rowsOf(y);
        kernels.launchRows("geglu_f32", rows, y.dim(-1), address(x), address(y), y.dim(-1), rows);
        return y;
    }

    @Override
    public Tensor transpose(Tensor x) {
        Tensor y = empty(OpShapes.transpose(x));
        int rows = x.dim(1);
        int columns = x.dim(2);
        if (y.elementCount() > 0) {
            kernels.launch("transpose_f32", (columns + 31) / 32, (rows + 31) / 32, x.dim(0), 32, 8, address(x), address(y),
                    rows, columns);
        }
        return y;
    }

    @Override
    public Tensor narrowLast(Tensor x, int from, int length) {
        Tensor y = empty(OpShapes.narrowLast(x, from, length));
        long rows = rowsOf(y);
        kernels.launchRows("narrow_last_f32", rows, length, address(x), address(y), x.dim(-1), from, length, rows);
        return y;
    }

    @Override
    public Tensor scale(Tensor x, float factor) {
        Tensor y = empty(x.shape());
        kernels.launchElementwise("scale_f32", x.elementCount(), address(x), address(y), factor, x.elementCount());
        return y;
    }

    @Override
    public void releaseCachedMemory() {
        bind();
        memory.releaseCachedLargerThan(-1);
    }

    @Override
    public void releaseCachedMemoryLargerThan(long bytes) {
        bind();
        memory.releaseCachedLargerThan(bytes);
    }

    @Override
    public void close() {
        bind();
        cudart.cudaStreamSynchronize(stream);
        blas.close();
        blasLt.close();
        kernels.close();
        memory.close();
        cudart.cudaStreamDestroy(stream);
    }
}
