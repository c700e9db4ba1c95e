package dev.jdiffusion.tensor;

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

    /** Copies the elements of a tensor of this backend to a new float array. */
    float[] toFloatArray(Tensor tensor);

    /** Prepares a {@code [out, in, ...]} weight (any float dtype; trailing dimensions flattened into in). */
    LinearWeight prepareLinear(RawTensor weight);

    // ------------------------------------------------------------------ ops

    /** {@code x W^T + bias}: {@code [..., in] -> [..., out]}; bias {@code [out]} or null. */
    Tensor linear(Tensor x, LinearWeight weight, Tensor bias);

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

    /** Releases the backend's threads and cached memory. Tensors it made must not be used afterwards. */
    @Override
    void close();
}
