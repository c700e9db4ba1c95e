package dev.jdiffusion.tensor;

import dev.jdiffusion.weights.DType;
import java.util.Arrays;

/**
 * The shape rules of the {@link Backend} ops, in one place for every backend: each check throws an
 * {@link IllegalArgumentException} that names the op and the shapes, before any kernel runs, and the ops whose
 * result shape follows from their inputs get it from here.
 */
public final class OpShapes {
    private OpShapes() {}

    public static void requireF32(Tensor t, String what) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(what + " must be F32, is " + t.dtype());
        }
    }

    public static void requireSameShape(Tensor a, Tensor b, String op) {
        if (!Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException(op + ": shapes differ, " + Shapes.toString(a.shape()) + " vs "
                    + Shapes.toString(b.shape()));
        }
    }

    /** Checks that a residual added to an op's result (null for none) has the result's shape and type. */
    public static void residual(Tensor residual, int[] resultShape, String op) {
        if (residual == null) {
            return;
        }
        requireF32(residual, op + "'s residual");
        if (!Arrays.equals(residual.shape(), resultShape)) {
            throw new IllegalArgumentException(op + ": residual " + Shapes.toString(residual.shape())
                    + " does not match the result " + Shapes.toString(resultShape));
        }
    }

    /** The shape of {@code x W^T + bias} for a weight of {@code in} inputs and {@code out} outputs. */
    public static int[] linear(Tensor x, int in, int out, Tensor bias) {
        requireF32(x, "input");
        if (x.dim(-1) != in) {
            throw new IllegalArgumentException("linear: input " + Shapes.toString(x.shape()) + " has " + x.dim(-1)
                    + " features, the weight expects " + in);
        }
        if (bias != null && bias.elementCount() != out) {
            throw new IllegalArgumentException("linear: bias has " + bias.elementCount() + " elements, expected " + out);
        }
        return Shapes.withLast(x.shape(), out);
    }

    public static void layerNorm(Tensor x, Tensor gamma, Tensor beta) {
        int width = x.dim(-1);
        if (gamma.elementCount() != width || beta.elementCount() != width) {
            throw new IllegalArgumentException("layer norm over " + width + " features got gamma " + Shapes.toString(gamma.shape())
                    + " and beta " + Shapes.toString(beta.shape()));
        }
    }

    public static void gatherTable(Tensor table) {
        if (table.rank() != 2) {
            throw new IllegalArgumentException("gatherRows needs a [rows, width] table, got " + Shapes.toString(table.shape()));
        }
    }

    /** Checks every index against the table's rows before anything is copied. */
    public static void gatherIndices(Tensor table, int[] indices) {
        for (int index : indices) {
            if (index < 0 || index >= table.dim(0)) {
                throw new IndexOutOfBoundsException("row " + index + " of a table with " + table.dim(0) + " rows");
            }
        }
    }

    /** The sizes of an attention: {@code q [batch, queries, width]}, {@code k} and {@code v [batch, keys, width]}. */
    public record AttentionShape(int batch, int queries, int keys, int width) {}

    public static AttentionShape attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
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
        return new AttentionShape(batch, queries, keys, width);
    }

    /** Checks a convolution's input against its weight: channels-last, as many channels as the weight takes. */
    public static void convInput(Tensor x, ConvWeight weight) {
        requireF32(x, "input");
        if (x.rank() != 4) {
            throw new IllegalArgumentException("conv2d: input " + Shapes.toString(x.shape()) + " must be [batch, height, "
                    + "width, channels]");
        }
        if (x.dim(3) != weight.inChannels()) {
            throw new IllegalArgumentException("conv2d: input " + Shapes.toString(x.shape()) + " must be [batch, height, width, "
                    + weight.inChannels() + "]");
        }
    }

    /**
     * The output shape {@code [batch, outHeight, outWidth, out]} of a convolution over {@code x} seen as
     * {@code height x width} (itself, or its nearest resize).
     */
    public static int[] convOutput(Tensor x, int height, int width, ConvWeight weight, Tensor bias, int stride,
            Padding padding) {
        if (stride < 1) {
            throw new IllegalArgumentException("conv2d: stride must be >= 1, got " + stride);
        }
        int outHeight = (height + padding.top() + padding.bottom() - weight.kernelHeight()) / stride + 1;
        int outWidth = (width + padding.left() + padding.right() - weight.kernelWidth()) / stride + 1;
        if (outHeight < 1 || outWidth < 1) {
            throw new IllegalArgumentException("conv2d: a " + height + "x" + width + " input is smaller than the "
                    + weight.kernelHeight() + "x" + weight.kernelWidth() + " kernel");
        }
        if (bias != null && bias.elementCount() != weight.outFeatures()) {
            throw new IllegalArgumentException("conv2d: bias has " + bias.elementCount() + " elements, expected "
                    + weight.outFeatures());
        }
        return new int[] {x.dim(0), outHeight, outWidth, weight.outFeatures()};
    }

    public static void groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta) {
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
    }

    /** Checks a resize of {@code [batch, height, width, channels]} to {@code height x width} by {@code op}. */
    public static void resize(Tensor x, int height, int width, String op) {
        requireF32(x, "input");
        if (x.rank() != 4 || height < 1 || width < 1) {
            throw new IllegalArgumentException(op + " takes [batch, height, width, channels] and a size >= 1, got "
                    + Shapes.toString(x.shape()) + " to " + height + "x" + width);
        }
    }

    /** The shape of {@code a} and {@code b} joined along their last dimension. */
    public static int[] concat(Tensor a, Tensor b) {
        if (a.rank() != b.rank() || !Arrays.equals(Arrays.copyOf(a.shape(), a.rank() - 1), Arrays.copyOf(b.shape(), b.rank() - 1))) {
            throw new IllegalArgumentException("concat: leading dimensions differ, " + Shapes.toString(a.shape()) + " and "
                    + Shapes.toString(b.shape()));
        }
        return Shapes.withLast(a.shape(), a.dim(-1) + b.dim(-1));
    }

    /** Checks {@code v [batch, width]} against {@code x [batch, ..., width]}; returns the positions per item. */
    public static int addPerItem(Tensor x, Tensor v) {
        int batch = x.dim(0);
        int width = x.dim(-1);
        if (v.rank() != 2 || v.dim(0) != batch || v.dim(1) != width) {
            throw new IllegalArgumentException("addPerItem: " + Shapes.toString(v.shape()) + " does not match ["
                    + batch + ", " + width + "] of " + Shapes.toString(x.shape()));
        }
        return Math.toIntExact(x.elementCount() / ((long) batch * width));
    }

    /** The shape of GEGLU's output: half the last dimension. */
    public static int[] geglu(Tensor x) {
        int doubled = x.dim(-1);
        if (doubled % 2 != 0) {
            throw new IllegalArgumentException("geglu needs an even last dimension, got " + Shapes.toString(x.shape()));
        }
        return Shapes.withLast(x.shape(), doubled / 2);
    }

    /** The shape of {@code [batch, rows, columns]} transposed: {@code [batch, columns, rows]}. */
    public static int[] transpose(Tensor x) {
        if (x.rank() != 3) {
            throw new IllegalArgumentException("transpose takes [batch, rows, columns], got " + Shapes.toString(x.shape()));
        }
        return new int[] {x.dim(0), x.dim(2), x.dim(1)};
    }

    /** The shape of columns {@code [from, from + length)} of the last dimension. */
    public static int[] narrowLast(Tensor x, int from, int length) {
        int width = x.dim(-1);
        if (from < 0 || length < 0 || from + length > width) {
            throw new IllegalArgumentException("narrowLast: [" + from + ", " + (from + length) + ") is outside the "
                    + width + " columns of " + Shapes.toString(x.shape()));
        }
        return Shapes.withLast(x.shape(), length);
    }

    /** The shape of {@code x} repeated {@code times} times along its first dimension. */
    public static int[] repeatBatch(Tensor x, int times) {
        requireF32(x, "x");
        if (times < 1 || x.rank() == 0) {
            throw new IllegalArgumentException("repeatBatch: cannot repeat " + Shapes.toString(x.shape()) + " " + times
                    + " times");
        }
        int[] shape = x.shape();
        shape[0] = Math.multiplyExact(shape[0], times);
        return shape;
    }
}
