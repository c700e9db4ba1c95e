package dev.jdiffusion.models.vae;

import dev.jdiffusion.nn.Conv2d;
import dev.jdiffusion.nn.Downsample2D;
import dev.jdiffusion.nn.GroupNorm;
import dev.jdiffusion.nn.ResnetBlock2D;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The VAE's {@code Encoder}: {@code conv_in}, per level ResNet blocks and (but at the last level) a
 * stride-2 downsample padded right and bottom, the mid block, group norm + SiLU, and {@code conv_out}
 * to the mean and log-variance channels.
 */
final class VaeEncoder implements AutoCloseable {
    private final Conv2d convIn;
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Integer> levelEnds = new ArrayList<>();
    private final List<Downsample2D> downsamplers = new ArrayList<>();
    private final VaeMidBlock midBlock;
    private final GroupNorm convNormOut;
    private final Conv2d convOut;

    VaeEncoder(Weights w, AutoencoderKLConfig config) {
        int[] channels = config.blockOutChannels();
        int groups = config.normNumGroups();
        this.convIn = Conv2d.same(w.at("conv_in"), config.inChannels(), channels[0], 3);
        int in = channels[0];
        for (int level = 0; level < config.levels(); level++) {
            Weights block = w.at("down_blocks").at(level);
            int out = channels[level];
            for (int i = 0; i < config.layersPerBlock(); i++) {
                resnets.add(new ResnetBlock2D(block.at("resnets").at(i), i == 0 ? in : out, out, 0, groups, VaeMidBlock.EPS));
            }
            levelEnds.add(resnets.size());
            if (level < config.levels() - 1) {
                downsamplers.add(Downsample2D.asymmetric(block.at("downsamplers.0"), out));
            }
            in = out;
        }
        int last = channels[config.levels() - 1];
        this.midBlock = new VaeMidBlock(w.at("mid_block"), last, groups);
        this.convNormOut = new GroupNorm(w.at("conv_norm_out"), groups, last, VaeMidBlock.EPS);
        this.convOut = Conv2d.same(w.at("conv_out"), last, 2 * config.latentChannels(), 3);
    }

    /** {@code [batch, height, width, in]} to {@code [batch, height / f, width / f, 2 * latent]}. */
    Tensor forward(Tensor image) {
        Tensor h = convIn.forward(image);
        try {
            int next = 0;
            for (int level = 0; level < levelEnds.size(); level++) {
                for (; next < levelEnds.get(level); next++) {
                    h = States.replace(h, resnets.get(next).forward(h, null));
                }
                if (level < downsamplers.size()) {
                    h = States.replace(h, downsamplers.get(level).forward(h));
                }
            }
            h = States.replace(h, midBlock.forward(h));
            h = States.replace(h, convNormOut.forwardSilu(h));
            return States.replace(h, convOut.forward(h));
        } catch (RuntimeException e) {
            h.close();
            throw e;
        }
    }

    @Override
    public void close() {
        convIn.close();
        resnets.forEach(ResnetBlock2D::close);
        downsamplers.forEach(Downsample2D::close);
        midBlock.close();
        convNormOut.close();
        convOut.close();
    }
}
