package dev.jdiffusion.models.unet;

import dev.jdiffusion.nn.Downsample2D;
import dev.jdiffusion.nn.ResnetBlock2D;
import dev.jdiffusion.nn.TextConditioning;
import dev.jdiffusion.nn.Transformer2D;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Tensor;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * One level of the U-Net's way down ({@code CrossAttnDownBlock2D}, or {@code DownBlock2D} without the
 * transformers): ResNet blocks, each followed by a transformer, then a stride-2 downsample except at
 * the lowest level. Every intermediate state is kept for the skip connections.
 */
final class DownBlock implements AutoCloseable {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2D> attentions = new ArrayList<>();
    private final Downsample2D downsampler;

    DownBlock(Weights w, UNet2DConditionConfig config, int level, int in) {
        int out = config.blockOutChannels()[level];
        boolean withAttention = config.downBlockTypes().get(level).equals(UNet2DConditionConfig.CROSS_ATTN_DOWN);
        int heads = config.attentionHeads()[level];
        for (int i = 0; i < config.layersPerBlock(); i++) {
            resnets.add(new ResnetBlock2D(w.at("resnets").at(i), i == 0 ? in : out, out, config.timeEmbeddingDim(),
                    config.normNumGroups(), config.normEps()));
            if (withAttention) {
                attentions.add(new Transformer2D(w.at("attentions").at(i), out, heads, out / heads,
                        config.transformerLayersPerBlock(), config.normNumGroups(), config.crossAttentionDim(),
                        config.useLinearProjection()));
            }
        }
        boolean lowest = level == config.levels() - 1;
        this.downsampler = lowest ? null : Downsample2D.padded(w.at("downsamplers.0"), out);
    }

    /** Runs the block on the last state of {@code skips}, pushing each new state onto it. */
    void forward(Deque<Tensor> skips, Tensor siluTimeEmbedding, TextConditioning text) {
        for (int i = 0; i < resnets.size(); i++) {
            Tensor h = resnets.get(i).forward(skips.peekLast(), siluTimeEmbedding);
            if (!attentions.isEmpty()) {
                try (Tensor beforeAttention = h) {
                    h = attentions.get(i).forward(beforeAttention, text);
                }
            }
            skips.addLast(h);
        }
        if (downsampler != null) {
            skips.addLast(downsampler.forward(skips.peekLast()));
        }
    }

    /** How many states {@link #forward} pushes. */
    int states() {
        return resnets.size() + (downsampler == null ? 0 : 1);
    }

    @Override
    public void close() {
        resnets.forEach(ResnetBlock2D::close);
        attentions.forEach(Transformer2D::close);
        if (downsampler != null) {
            downsampler.close();
        }
    }
}
