package dev.jdiffusion.models.unet;

import dev.jdiffusion.models.ConfigValues;
import java.nio.file.Path;
import java.util.List;

/**
 * The parts of diffusers' {@code UNet2DConditionModel} config that Stable Diffusion 1.x and 2.x use.
 *
 * @param attentionHeads heads per down block (diffusers' {@code attention_head_dim}, which for historical
 *     reasons counts heads; {@code num_attention_heads} wins when given); the mid block uses the last
 *     entry and the up blocks the list reversed
 * @param useLinearProjection SD 2.x stores {@code proj_in}/{@code proj_out} as linear layers
 */
public record UNet2DConditionConfig(int inChannels, int outChannels, int[] blockOutChannels, List<String> downBlockTypes,
        List<String> upBlockTypes, int layersPerBlock, int[] attentionHeads, int transformerLayersPerBlock,
        int crossAttentionDim, int normNumGroups, double normEps, boolean useLinearProjection, boolean flipSinToCos,
        double freqShift, int sampleSize) {

    static final String CROSS_ATTN_DOWN = "CrossAttnDownBlock2D";
    static final String DOWN = "DownBlock2D";
    static final String CROSS_ATTN_UP = "CrossAttnUpBlock2D";
    static final String UP = "UpBlock2D";

    public UNet2DConditionConfig {
        int levels = blockOutChannels.length;
        if (downBlockTypes.size() != levels || upBlockTypes.size() != levels || attentionHeads.length != levels) {
            throw new IllegalArgumentException("UNet config: block_out_channels, down_block_types, up_block_types and the "
                    + "attention heads must have one entry per level, got " + levels + ", " + downBlockTypes.size() + ", "
                    + upBlockTypes.size() + ", " + attentionHeads.length);
        }
        for (String type : downBlockTypes) {
            if (!type.equals(CROSS_ATTN_DOWN) && !type.equals(DOWN)) {
                throw new IllegalArgumentException("UNet config: unsupported down block type '" + type + "' (known: "
                        + CROSS_ATTN_DOWN + ", " + DOWN + ")");
            }
        }
        for (String type : upBlockTypes) {
            if (!type.equals(CROSS_ATTN_UP) && !type.equals(UP)) {
                throw new IllegalArgumentException("UNet config: unsupported up block type '" + type + "' (known: "
                        + CROSS_ATTN_UP + ", " + UP + ")");
            }
        }
        blockOutChannels = blockOutChannels.clone();
        attentionHeads = attentionHeads.clone();
        downBlockTypes = List.copyOf(downBlockTypes);
        upBlockTypes = List.copyOf(upBlockTypes);
    }

    /** Stable Diffusion 1.5's U-Net. */
    public static UNet2DConditionConfig sd15() {
        return new UNet2DConditionConfig(4, 4, new int[] {320, 640, 1280, 1280},
                List.of(CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, DOWN), List.of(UP, CROSS_ATTN_UP, CROSS_ATTN_UP,
                        CROSS_ATTN_UP), 2, new int[] {8, 8, 8, 8}, 1, 768, 32, 1e-5, false, true, 0, 64);
    }

    public static UNet2DConditionConfig read(Path configJson) {
        return from(ConfigValues.read(configJson));
    }

    public static UNet2DConditionConfig from(ConfigValues c) {
        for (String unsupported : List.of("addition_embed_type", "class_embed_type", "encoder_hid_dim_type",
                "time_cond_proj_dim")) {
            if (c.has(unsupported)) {
                throw new IllegalArgumentException("UNet config sets \"" + unsupported + "\", which this U-Net does not "
                        + "support (SD 1.x and 2.x do not use it)");
            }
        }
        if (!c.getString("mid_block_type", "UNetMidBlock2DCrossAttn").equals("UNetMidBlock2DCrossAttn")) {
            throw new IllegalArgumentException("UNet config: unsupported mid_block_type '" + c.getString("mid_block_type") + "'");
        }
        if (!c.getString("act_fn", "silu").equals("silu") || !c.getString("resnet_time_scale_shift", "default").equals("default")
                || c.getBoolean("only_cross_attention", false) || c.getBoolean("center_input_sample", false)) {
            throw new IllegalArgumentException("UNet config: only act_fn silu, resnet_time_scale_shift default, no "
                    + "only_cross_attention and no center_input_sample are supported");
        }
        if (c.getInt("downsample_padding", 1) != 1) {
            throw new IllegalArgumentException("UNet config: downsample_padding must be 1");
        }
        int[] channels = c.getIntList("block_out_channels", c.listSize("block_out_channels"));
        int levels = channels.length;
        String headsKey = c.has("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
        int[] transformerLayers = c.has("transformer_layers_per_block")
                ? c.getIntList("transformer_layers_per_block", levels) : new int[] {1};
        for (int layers : transformerLayers) {
            if (layers != transformerLayers[0]) {
                throw new IllegalArgumentException("UNet config: per-block transformer_layers_per_block is not supported");
            }
        }
        return new UNet2DConditionConfig(
                c.getInt("in_channels", 4),
                c.getInt("out_channels", 4),
                channels,
                c.getStringList("down_block_types"),
                c.getStringList("up_block_types"),
                c.getInt("layers_per_block", 2),
                c.getIntList(headsKey, levels),
                transformerLayers[0],
                c.getInt("cross_attention_dim", 1280),
                c.getInt("norm_num_groups", 32),
                c.getDouble("norm_eps", 1e-5),
                c.getBoolean("use_linear_projection", false),
                c.getBoolean("flip_sin_to_cos", true),
                c.getDouble("freq_shift", 0),
                c.getInt("sample_size", 64));
    }

    /**
     * The config of a U-Net read off its tensors (diffusers names): widths, levels, block kinds, cross
     * width, projection kind. Heads cannot be seen in the weights: 8 per level for a 768-wide cross
     * attention (SD 1.x), else 64-wide heads (SD 2.x).
     */
    public static UNet2DConditionConfig inferFrom(dev.jdiffusion.weights.TensorSource weights) {
        int levels = 0;
        while (weights.contains("down_blocks." + levels + ".resnets.0.conv1.weight")) {
            levels++;
        }
        if (levels == 0) {
            throw new IllegalArgumentException(weights.description() + " has no down_blocks: not a U-Net");
        }
        int layers = 0;
        while (weights.contains("down_blocks.0.resnets." + layers + ".conv1.weight")) {
            layers++;
        }
        int[] channels = new int[levels];
        java.util.List<String> down = new java.util.ArrayList<>();
        java.util.List<String> up = new java.util.ArrayList<>();
        int crossAttentionDim = -1;
        boolean linear = false;
        int transformerLayers = 1;
        for (int l = 0; l < levels; l++) {
            channels[l] = (int) weights.get("down_blocks." + l + ".resnets.0.conv1.weight").dim(0);
            String attention = "down_blocks." + l + ".attentions.0.";
            boolean hasAttention = weights.contains(attention + "proj_in.weight");
            down.add(hasAttention ? CROSS_ATTN_DOWN : DOWN);
            up.add(weights.contains("up_blocks." + l + ".attentions.0.proj_in.weight") ? CROSS_ATTN_UP : UP);
            if (hasAttention && crossAttentionDim < 0) {
                crossAttentionDim = (int) weights.get(attention + "transformer_blocks.0.attn2.to_k.weight").dim(1);
                linear = weights.get(attention + "proj_in.weight").rank() == 2;
                while (weights.contains(attention + "transformer_blocks." + transformerLayers + ".norm1.weight")) {
                    transformerLayers++;
                }
            }
        }
        int[] heads = new int[levels];
        for (int l = 0; l < levels; l++) {
            heads[l] = crossAttentionDim == 768 ? 8 : Math.max(1, channels[l] / 64);
        }
        return new UNet2DConditionConfig((int) weights.get("conv_in.weight").dim(1), (int) weights.get("conv_out.weight").dim(0),
                channels, down, up, layers, heads, transformerLayers, crossAttentionDim, 32, 1e-5, linear, true, 0, 64);
    }

    /** Width of the time embedding: four times the first block's channels. */
    public int timeEmbeddingDim() {
        return 4 * blockOutChannels[0];
    }

    public int levels() {
        return blockOutChannels.length;
    }

    /** How many times the U-Net halves the latent: latent sizes that are multiples of 2^this need no resize. */
    public int downsamplings() {
        return levels() - 1;
    }

    @Override
    public int[] blockOutChannels() {
        return blockOutChannels.clone();
    }

    @Override
    public int[] attentionHeads() {
        return attentionHeads.clone();
    }
}
