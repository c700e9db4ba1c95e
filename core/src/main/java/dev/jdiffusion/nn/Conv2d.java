package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.Padding;
import dev.jdiffusion.tensor.Tensor;

/** torch's {@code nn.Conv2d} on channels-last tensors: {@code weight [out, in, k, k]}, {@code bias [out]}. */
public final class Conv2d implements AutoCloseable {
    private final Backend backend;
    private final ConvWeight weight;
    private final Tensor bias;
    private final int stride;
    private final Padding padding;

    public Conv2d(Weights w, int in, int out, int kernel, int stride, Padding padding) {
        this.backend = w.backend();
        this.weight = w.conv("weight", out, in, kernel, kernel);
        this.bias = w.tensor("bias", out);
        this.stride = stride;
        this.padding = padding;
    }

    /** A stride-1 convolution padded to keep the size ({@code kernel / 2} per side). */
    public static Conv2d same(Weights w, int in, int out, int kernel) {
        return new Conv2d(w, in, out, kernel, 1, Padding.of(kernel / 2));
    }

    /** {@code [batch, height, width, in] -> [batch, outHeight, outWidth, out]}. */
    public Tensor forward(Tensor x) {
        return backend.conv2d(x, weight, bias, stride, padding);
    }

    /** The convolution plus {@code residual} (of the result's shape), which is left as it is. */
    public Tensor forward(Tensor x, Tensor residual) {
        return backend.conv2d(x, weight, bias, stride, padding, residual);
    }

    /**
     * The convolution of {@code x} resized (nearest) to {@code height x width}, without forming the resized
     * tensor where the backend can; stride 1 only.
     */
    public Tensor forwardUpsampled(Tensor x, int height, int width) {
        if (stride != 1) {
            throw new IllegalStateException("an upsampling convolution has stride 1, this one " + stride);
        }
        return backend.upsampleConv2d(x, height, width, weight, bias, padding);
    }

    @Override
    public void close() {
        weight.close();
        bias.close();
    }
}
