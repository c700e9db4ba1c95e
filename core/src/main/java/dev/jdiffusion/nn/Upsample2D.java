package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Tensor;

/** diffusers' {@code Upsample2D} with its convolution: nearest-neighbour resize (x2, or to a given size), then 3x3. */
public final class Upsample2D implements AutoCloseable {
    private final Conv2d conv;

    public Upsample2D(Weights w, int channels) {
        this.conv = Conv2d.same(w.at("conv"), channels, channels, 3);
    }

    /** Doubles height and width. */
    public Tensor forward(Tensor x) {
        return forward(x, 2 * x.dim(1), 2 * x.dim(2));
    }

    /** Resizes to {@code height x width} (the skip connection's size when it is not exactly double). */
    public Tensor forward(Tensor x, int height, int width) {
        return conv.forwardUpsampled(x, height, width);
    }

    @Override
    public void close() {
        conv.close();
    }
}
