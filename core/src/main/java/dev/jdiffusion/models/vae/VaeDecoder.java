package dev.jdiffusion.models.vae;

import dev.jdiffusion.nn.Conv2d;
import dev.jdiffusion.nn.GroupNorm;
import dev.jdiffusion.nn.ResnetBlock2D;
import dev.jdiffusion.nn.Upsample2D;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The VAE's {@code Decoder}: {@code conv_in}, the mid block, per level (widest first) ResNet blocks and
 * (but at the last level) a nearest x2 upsample with its convolution, group norm + SiLU, {@code conv_out}.
 */
final class VaeDecoder implements AutoCloseable {
    private final Backend backend;
    private final Conv2d convIn;
    private final VaeMidBlock midBlock;
    private final List<List<ResnetBlock2D>> levels = new ArrayList<>();
    private final List<Upsample2D> upsamplers = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final Conv2d convOut;

    VaeDecoder(Weights w, AutoencoderKLConfig config) {
        int[] channels = config.blockOutChannels();
        int groups = config.normNumGroups();
        int top = channels[config.levels() - 1];
        this.backend = w.backend();
        this.convIn = Conv2d.same(w.at("conv_in"), config.latentChannels(), top, 3);
        this.midBlock = new VaeMidBlock(w.at("mid_block"), top, groups);
        int in = top;
        for (int i = 0; i < config.levels(); i++) {
            Weights block = w.at("up_blocks").at(i);
            int out = channels[config.levels() - 1 - i];
            List<ResnetBlock2D> resnets = new ArrayList<>();
            for (int j = 0; j < config.layersPerBlock() + 1; j++) {
                resnets.add(new ResnetBlock2D(block.at("resnets").at(j), j == 0 ? in : out, out, 0, groups, VaeMidBlock.EPS));
            }
            levels.add(resnets);
            if (i < config.levels() - 1) {
                upsamplers.add(new Upsample2D(block.at("upsamplers.0"), out));
            }
            in = out;
        }
        this.convNormOut = new GroupNorm(w.at("conv_norm_out"), groups, channels[0], VaeMidBlock.EPS);
        this.convOut = Conv2d.same(w.at("conv_out"), channels[0], config.outChannels(), 3);
    }

    /** {@code [batch, h, w, latent]} to {@code [batch, h * f, w * f, out]}. */
    Tensor forward(Tensor latents) {
        Tensor h = convIn.forward(latents);
        try {
            h = States.replace(h, midBlock.forward(h));
            for (int i = 0; i < levels.size(); i++) {
                for (ResnetBlock2D resnet : levels.get(i)) {
                    boolean narrows = h.dim(3) != resnet.outChannels();
                    h = States.replace(h, resnet.forward(h, null));
                    if (narrows) {
                        // the wider buffers it leaves behind are not needed at their size again; those of h's size are
                        // needed next
                        backend.releaseCachedMemoryLargerThan(h.elementCount() * Float.BYTES);
                    }
                }
                if (i < upsamplers.size()) {
                    // Each level works at four times the pixels of the last: its buffers are not needed at their
                    // sizes again, so they go before the upsampled output (the largest tensor yet) is allocated,
                    // and after.
                    backend.releaseCachedMemory();
                    h = States.replace(h, upsamplers.get(i).forward(h));
                    backend.releaseCachedMemory();
                }
            }
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
        midBlock.close();
        levels.forEach(resnets -> resnets.forEach(ResnetBlock2D::close));
        upsamplers.forEach(Upsample2D::close);
        convNormOut.close();
        convOut.close();
    }
}
