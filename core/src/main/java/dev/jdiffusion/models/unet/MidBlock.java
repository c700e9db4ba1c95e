package dev.jdiffusion.models.unet;

import dev.jdiffusion.nn.ResnetBlock2D;
import dev.jdiffusion.nn.TextConditioning;
import dev.jdiffusion.nn.Transformer2D;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Tensor;

/** The bottom of the U-Net ({@code UNetMidBlock2DCrossAttn}): ResNet, transformer, ResNet. */
final class MidBlock implements AutoCloseable {
    private final ResnetBlock2D first;
    private final Transformer2D attention;
    private final ResnetBlock2D second;

    MidBlock(Weights w, UNet2DConditionConfig config) {
        int channels = config.blockOutChannels()[config.levels() - 1];
        int heads = config.attentionHeads()[config.levels() - 1];
        this.first = new ResnetBlock2D(w.at("resnets.0"), channels, channels, config.timeEmbeddingDim(),
                config.normNumGroups(), config.normEps());
        this.attention = new Transformer2D(w.at("attentions.0"), channels, heads, channels / heads,
                config.transformerLayersPerBlock(), config.normNumGroups(), config.crossAttentionDim(),
                config.useLinearProjection());
        this.second = new ResnetBlock2D(w.at("resnets.1"), channels, channels, config.timeEmbeddingDim(),
                config.normNumGroups(), config.normEps());
    }

    Tensor forward(Tensor x, Tensor siluTimeEmbedding, TextConditioning text) {
        try (Tensor a = first.forward(x, siluTimeEmbedding); Tensor b = attention.forward(a, text)) {
            return second.forward(b, siluTimeEmbedding);
        }
    }

    @Override
    public void close() {
        first.close();
        attention.close();
        second.close();
    }
}
