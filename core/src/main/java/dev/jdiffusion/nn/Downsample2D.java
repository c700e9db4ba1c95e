package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Padding;
import dev.jdiffusion.tensor.Tensor;

/**
 * diffusers' {@code Downsample2D} with its convolution: a 3x3 stride-2 convolution. The U-Net pads one
 * pixel on every side; the VAE encoder pads only right and bottom ({@code (0, 1, 0, 1)}), then none.
 */
public final class Downsample2D implements AutoCloseable {
    private final Conv2d conv;

    public Downsample2D(Weights w, int channels, Padding padding) {
        this.conv = new Conv2d(w.at("conv"), channels, channels, 3, 2, padding);
    }

    /** The U-Net's form ({@code downsample_padding = 1}). */
    public static Downsample2D padded(Weights w, int channels) {
        return new Downsample2D(w, channels, Padding.of(1));
    }

    /** The VAE encoder's form: zero pad (left 0, right 1, top 0, bottom 1). */
    public static Downsample2D asymmetric(Weights w, int channels) {
        return new Downsample2D(w, channels, new Padding(0, 1, 0, 1));
    }

    public Tensor forward(Tensor x) {
        return conv.forward(x);
    }

    @Override
    public void close() {
        conv.close();
    }
}
