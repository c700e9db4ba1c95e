package dev.jdiffusion.models.vae;

import dev.jdiffusion.models.ConfigValues;
import java.nio.file.Path;

/**
 * diffusers' {@code AutoencoderKL} config as Stable Diffusion uses it.
 *
 * @param scalingFactor latents are multiplied by this after encoding and divided before decoding
 *     (0.18215 for SD 1.x and 2.x)
 */
public record AutoencoderKLConfig(int inChannels, int outChannels, int latentChannels, int[] blockOutChannels,
        int layersPerBlock, int normNumGroups, double scalingFactor, int sampleSize) {

    public AutoencoderKLConfig {
        blockOutChannels = blockOutChannels.clone();
    }

    /** Stable Diffusion's VAE (SD 1.x and 2.x). */
    public static AutoencoderKLConfig sd15() {
        return new AutoencoderKLConfig(3, 3, 4, new int[] {128, 256, 512, 512}, 2, 32, 0.18215, 512);
    }

    public static AutoencoderKLConfig read(Path configJson) {
        return from(ConfigValues.read(configJson));
    }

    public static AutoencoderKLConfig from(ConfigValues c) {
        int levels = c.listSize("block_out_channels");
        for (String type : c.getStringList("down_block_types")) {
            if (!type.equals("DownEncoderBlock2D")) {
                throw new IllegalArgumentException("VAE config: unsupported down block type '" + type + "'");
            }
        }
        for (String type : c.getStringList("up_block_types")) {
            if (!type.equals("UpDecoderBlock2D")) {
                throw new IllegalArgumentException("VAE config: unsupported up block type '" + type + "'");
            }
        }
        if (!c.getString("act_fn", "silu").equals("silu") || !c.getBoolean("mid_block_add_attention", true)) {
            throw new IllegalArgumentException("VAE config: only act_fn silu with a mid-block attention is supported");
        }
        if (c.getStringList("down_block_types").size() != levels || c.getStringList("up_block_types").size() != levels) {
            throw new IllegalArgumentException("VAE config: one down and one up block per entry of block_out_channels");
        }
        return new AutoencoderKLConfig(
                c.getInt("in_channels", 3),
                c.getInt("out_channels", 3),
                c.getInt("latent_channels", 4),
                c.getIntList("block_out_channels", levels),
                c.getInt("layers_per_block", 1),
                c.getInt("norm_num_groups", 32),
                c.getDouble("scaling_factor", 0.18215),
                c.getInt("sample_size", 32));
    }

    /** The config of a VAE read off its tensors (diffusers names), with SD's groups and scaling factor. */
    public static AutoencoderKLConfig inferFrom(dev.jdiffusion.weights.TensorSource weights) {
        int levels = 0;
        while (weights.contains("encoder.down_blocks." + levels + ".resnets.0.conv1.weight")) {
            levels++;
        }
        if (levels == 0) {
            throw new IllegalArgumentException(weights.description() + " has no encoder.down_blocks: not a VAE");
        }
        int layers = 0;
        while (weights.contains("encoder.down_blocks.0.resnets." + layers + ".conv1.weight")) {
            layers++;
        }
        int[] channels = new int[levels];
        for (int l = 0; l < levels; l++) {
            channels[l] = (int) weights.get("encoder.down_blocks." + l + ".resnets.0.conv1.weight").dim(0);
        }
        return new AutoencoderKLConfig((int) weights.get("encoder.conv_in.weight").dim(1),
                (int) weights.get("decoder.conv_out.weight").dim(0), (int) weights.get("post_quant_conv.weight").dim(0),
                channels, layers, 32, 0.18215, 512);
    }

    public int levels() {
        return blockOutChannels.length;
    }

    /** How much smaller than the image the latent is per side. */
    public int downscale() {
        return 1 << (levels() - 1);
    }

    @Override
    public int[] blockOutChannels() {
        return blockOutChannels.clone();
    }
}
