package dev.jdiffusion.models.vae;

import dev.jdiffusion.nn.ResnetBlock2D;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Tensor;

/** The VAE's {@code UNetMidBlock2D}: ResNet, single-head attention, ResNet, without time embedding. */
final class VaeMidBlock implements AutoCloseable {
    static final double EPS = 1e-6;

    private final ResnetBlock2D first;
    private final VaeAttention attention;
    private final ResnetBlock2D second;

    VaeMidBlock(Weights w, int channels, int groups) {
        this.first = new ResnetBlock2D(w.at("resnets.0"), channels, channels, 0, groups, EPS);
        this.attention = new VaeAttention(w.at("attentions.0"), channels, groups);
        this.second = new ResnetBlock2D(w.at("resnets.1"), channels, channels, 0, groups, EPS);
    }

    Tensor forward(Tensor x) {
        try (Tensor a = first.forward(x, null); Tensor b = attention.forward(a)) {
            return second.forward(b, null);
        }
    }

    @Override
    public void close() {
        first.close();
        attention.close();
        second.close();
    }
}
