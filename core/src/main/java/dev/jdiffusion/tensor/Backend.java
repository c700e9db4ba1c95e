package dev.jdiffusion.tensor;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;

/**
 * The operations models are built from. A backend owns its tensors' memory and runs every op; models
 * never see how (the Vector API on the CPU, CUDA on a GPU). Ops return new tensors that the caller
 * owns and closes. Row-major shapes throughout; "rows" are all dimensions but the last.
 */
public interface Backend extends AutoCloseable {

    Device device();

    // ------------------------------------------------------------------ tensors

    /** A new F32 tensor with unspecified contents, to be fully written by the caller. */
    Tensor empty(int... shape);

    /** A new F32 tensor holding {@code values}. */
    Tensor fromFloats(float[] values, int... shape);

    /**
     * A stored tensor as an F32 tensor of this backend: the file's memory itself where it already has
     * that layout (F32 on a little-endian host), a widened copy otherwise.
     */
    Tensor fromRaw(RawTensor raw);

    /** A new tensor with the same shape and elements. */
    Tensor copy(Tensor tensor);

    /**
     * {@code x} ({@code [batch, ...]}) repeated {@code times} times along its first dimension: a new
     * {@code [times * batch, ...]} tensor whose items {@code [i * batch, (i + 1) * batch)} are copies of {@code x}.
     */
    Tensor repeatBatch(Tensor x, int times);

    /** Copies the elements of a tensor of this backend to a new float array. */
    float[] toFloatArray(Tensor tensor);

    /**
     * Prepares a {@code [out, in, ...]} weight (any float dtype; trailing dimensions flattened into in), held in
     * memory in the type it is stored in (F64 as F32).
     */
    default LinearWeight prepareLinear(RawTensor weight) {
        return prepareLinear(weight, null);
    }

    /**
     * As {@link #prepareLinear(RawTensor)}, held in memory as {@code heldAs}: {@link DType#F16} or
     * {@link DType#BF16} round a wider stored weight to the nearest even (as torch's {@code .half()} and
     * {@code .bfloat16()} do), {@link DType#F32} widens a 16-bit one exactly; null keeps the stored type.
     *
     * @throws IllegalArgumentException for any other type
     */
    LinearWeight prepareLinear(RawTensor weight, DType heldAs);

    /**
     * Returns {@code type} if weights can be held in it: F32, F16 or BF16.
     *
     * @throws IllegalArgumentException otherwise
     */
    static DType requireHeldType(DType type) {
        if (type != DType.F32 && type != DType.F16 && type != DType.BF16) {
            throw new IllegalArgumentException("weights are held as F32, F16 or BF16, not " + type);
        }
        return type;
    }

    // ------------------------------------------------------------------ ops

    /** {@code x W^T + bias}: {@code [..., in] -> [..., out]}; bias {@code [out]} or null. */
    Tensor linear(Tensor x, LinearWeight weight, Tensor bias);

    /**
     * {@code x W^T + bias + residual}: {@link #linear(Tensor, LinearWeight, Tensor)}, then {@code residual} (of the
     * result's shape, left as it is; null for none) added as {@link #addInPlace} adds it. A backend may add it as
     * the product stores its sums, sparing a pass over the result.
     */
    default Tensor linear(Tensor x, LinearWeight weight, Tensor bias, Tensor residual) {
        return plusResidual(linear(x, weight, bias), residual);
    }

    /** {@code y + residual} into {@code y} (closed if that fails); {@code y} alone for a null residual. */
    private Tensor plusResidual(Tensor y, Tensor residual) {
        if (residual != null) {
            try {
                addInPlace(y, residual);
            } catch (RuntimeException e) {
                y.close();
                throw e;
            }
        }
        return y;
    }

    /** Layer normalisation over the last dimension with affine {@code gamma}, {@code beta}. */
    Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps);

    /** Softmax over the last dimension. */
    Tensor softmax(Tensor x);

    /** The activation applied to every element. */
    Tensor activation(Tensor x, Activation activation);

    /** Elementwise sum of two tensors of the same shape. */
    Tensor add(Tensor a, Tensor b);

    /** Adds {@code b} into {@code a} (same shape), avoiding a new tensor for residual connections. */
    void addInPlace(Tensor a, Tensor b);

    /** Rows {@code indices} of a {@code [n, d]} table (embedding lookup): {@code [indices.length, d]}. */
    Tensor gatherRows(Tensor table, int[] indices);

    /**
     * Multi-head scaled dot-product attention, {@code softmax(scale q k^T + mask) v} per head, heads
     * interleaved in the last dimension as linear projections produce them.
     *
     * @param q {@code [batch, queries, heads * headDim]}
     * @param k {@code [batch, keys, heads * headDim]}
     * @param v {@code [batch, keys, heads * headDim]}
     * @param causal whether query {@code i} sees only keys {@code <= i}
     * @return {@code [batch, queries, heads * headDim]}
     */
    Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal);

    // ------------------------------------------------------------------ image ops (channels-last)

    /**
     * Prepares a convolution weight {@code [out, in, kernelHeight, kernelWidth]} (any float dtype), held in the
     * type it is stored in (F64 as F32).
     */
    default ConvWeight prepareConv(RawTensor weight) {
        return prepareConv(weight, null);
    }

    /** As {@link #prepareConv(RawTensor)}, held in memory as {@code heldAs}, as {@link #prepareLinear(RawTensor, DType)}. */
    ConvWeight prepareConv(RawTensor weight, DType heldAs);

    /**
     * 2-D convolution of a channels-last {@code [batch, height, width, in]} input:
     * {@code [batch, outHeight, outWidth, out]}, {@code out = (in + pads - kernel) / stride + 1} per side.
     * Bias {@code [out]} or null.
     */
    Tensor conv2d(Tensor x, ConvWeight weight, Tensor bias, int stride, Padding padding);

    /**
     * {@link #conv2d(Tensor, ConvWeight, Tensor, int, Padding)} plus {@code residual} (of the result's shape, left
     * as it is; null for none), added as by {@link #linear(Tensor, LinearWeight, Tensor, Tensor)}.
     */
    default Tensor conv2d(Tensor x, ConvWeight weight, Tensor bias, int stride, Padding padding, Tensor residual) {
        return plusResidual(conv2d(x, weight, bias, stride, padding), residual);
    }

    /**
     * Group normalisation of {@code [batch, ..., channels]}: per batch item, the channels are cut into
     * {@code groups} groups, each normalised over every position and its channels; then the per-channel
     * affine {@code gamma}, {@code beta}, and SiLU when {@code silu}.
     */
    Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu);

    /** Nearest-neighbour resize of {@code [batch, height, width, channels]} (torch's {@code nearest}). */
    Tensor upsampleNearest(Tensor x, int height, int width);

    /**
     * A stride-1 convolution of {@code x} resized to {@code height x width} by {@link #upsampleNearest}: the
     * same result, which a backend may compute without forming the resized tensor (4x the input at x2).
     */
    default Tensor upsampleConv2d(Tensor x, int height, int width, ConvWeight weight, Tensor bias, Padding padding) {
        try (Tensor resized = upsampleNearest(x, height, width)) {
            return conv2d(resized, weight, bias, 1, padding);
        }
    }

    /** Concatenation along the last dimension of two tensors with equal leading dimensions. */
    Tensor concat(Tensor a, Tensor b);

    /** {@code x[b, ..., c] += v[b, c]}: adds each batch item's vector at every position of that item. */
    void addPerItem(Tensor x, Tensor v);

    /** GEGLU: {@code [..., 2w] -> [..., w]}, the first half times GELU of the second. */
    Tensor geglu(Tensor x);

    /** {@code [batch, rows, columns] -> [batch, columns, rows]} (channels-first and channels-last). */
    Tensor transpose(Tensor x);

    /** Columns {@code [from, from + length)} of the last dimension, as a new tensor. */
    Tensor narrowLast(Tensor x, int from, int length);

    /** Every element times {@code factor}. */
    Tensor scale(Tensor x, float factor);

    /**
     * Waits until every op called so far has run. A backend that queues ops on a device returns from them before
     * they are done (reading a result back waits for it); timing one op needs this. The CPU backend's ops are done
     * when they return.
     */
    default void synchronize() {
    }

    /**
     * Gives back memory kept for reuse by tensors already closed. Allocations of the same sizes are
     * recycled between the steps of a loop; between phases that use other sizes (the denoising loop,
     * then the VAE decode) releasing them lowers the peak.
     */
    default void releaseCachedMemory() {
    }

    /**
     * Gives back the memory kept for reuse in blocks of more than {@code bytes}, and keeps the rest: where a
     * network narrows, the wider buffers it leaves behind fit nothing later, while those of the new width are
     * about to be needed again. A backend without such a distinction releases everything.
     */
    default void releaseCachedMemoryLargerThan(long bytes) {
        releaseCachedMemory();
    }

    /** Releases the backend's threads and cached memory. Tensors it made must not be used afterwards. */
    @Override
    void close();
}
