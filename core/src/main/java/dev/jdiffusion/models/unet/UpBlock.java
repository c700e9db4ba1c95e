package dev.jdiffusion.models.unet;

import dev.jdiffusion.nn.ResnetBlock2D;
import dev.jdiffusion.nn.TextConditioning;
import dev.jdiffusion.nn.Transformer2D;
import dev.jdiffusion.nn.Upsample2D;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * One level of the U-Net's way up ({@code CrossAttnUpBlock2D} or {@code UpBlock2D}): each ResNet block
 * takes the current state concatenated with the matching skip state from the way down, optionally
 * followed by a transformer; then a nearest x2 upsample (to the next skip's size) except at the top.
 */
final class UpBlock implements AutoCloseable {
    private final Backend backend;
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2D> attentions = new ArrayList<>();
    private final Upsample2D upsampler;

    /**
     * @param index position among the up blocks (0 = lowest resolution)
     */
    UpBlock(Weights w, UNet2DConditionConfig config, int index) {
        this.backend = w.backend();
        int levels = config.levels();
        int[] channels = config.blockOutChannels();
        int out = channels[levels - 1 - index];
        int previousOut = channels[levels - 1 - Math.max(0, index - 1)];
        int skipIn = channels[Math.max(0, levels - 2 - index)];
        int heads = config.attentionHeads()[levels - 1 - index];
        boolean withAttention = config.upBlockTypes().get(index).equals(UNet2DConditionConfig.CROSS_ATTN_UP);
        int layers = config.layersPerBlock() + 1;
        for (int i = 0; i < layers; i++) {
            int skipChannels = i == layers - 1 ? skipIn : out;
            int resnetIn = i == 0 ? previousOut : out;
            resnets.add(new ResnetBlock2D(w.at("resnets").at(i), resnetIn + skipChannels, out, config.timeEmbeddingDim(),
                    config.normNumGroups(), config.normEps()));
            if (withAttention) {
                attentions.add(new Transformer2D(w.at("attentions").at(i), out, heads, out / heads,
                        config.transformerLayersPerBlock(), config.normNumGroups(), config.crossAttentionDim(),
                        config.useLinearProjection()));
            }
        }
        boolean top = index == levels - 1;
        this.upsampler = top ? null : new Upsample2D(w.at("upsamplers.0"), out);
    }

    /**
     * Consumes (and closes) this block's skip states from the end of {@code skips}; the upsample goes to
     * the size of the next skip state left for the block above, so odd sizes come back exactly.
     */
    Tensor forward(Tensor x, Deque<Tensor> skips, Tensor siluTimeEmbedding, TextConditioning text) {
        Tensor h = x;
        boolean owned = false;
        try {
            for (int i = 0; i < resnets.size(); i++) {
                Tensor next;
                try (Tensor skip = skips.removeLast(); Tensor joined = backend.concat(h, skip)) {
                    next = resnets.get(i).forward(joined, siluTimeEmbedding);
                }
                if (!attentions.isEmpty()) {
                    try (Tensor beforeAttention = next) {
                        next = attentions.get(i).forward(beforeAttention, text);
                    }
                }
                if (owned) {
                    h.close();
                }
                h = next;
                owned = true;
            }
            if (upsampler != null) {
                Tensor target = skips.peekLast();
                Tensor up = upsampler.forward(h, target.dim(1), target.dim(2));
                h.close();
                h = up;
            }
            return h;
        } catch (RuntimeException e) {
            if (owned) {
                h.close();
            }
            throw e;
        }
    }

    @Override
    public void close() {
        resnets.forEach(ResnetBlock2D::close);
        attentions.forEach(Transformer2D::close);
        if (upsampler != null) {
            upsampler.close();
        }
    }
}
