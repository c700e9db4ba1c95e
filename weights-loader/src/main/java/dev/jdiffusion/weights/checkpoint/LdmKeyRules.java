package dev.jdiffusion.weights.checkpoint;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The renaming rules from the original Stable Diffusion (CompVis / LDM, A1111) key layout to diffusers'
 * names, one rule per structural element, as diffusers' conversion scripts define them. A name with no
 * rule returns null (EMA copies, buffers such as {@code alphas_cumprod}, unknown extras).
 */
final class LdmKeyRules {
    private static final Pattern INPUT_BLOCK = Pattern.compile("input_blocks\\.(\\d+)\\.(\\d+)\\.(.+)");
    private static final Pattern OUTPUT_BLOCK = Pattern.compile("output_blocks\\.(\\d+)\\.(\\d+)\\.(.+)");
    private static final Pattern MIDDLE_BLOCK = Pattern.compile("middle_block\\.(\\d+)\\.(.+)");
    private static final Pattern VAE_DOWN = Pattern.compile("(encoder)\\.down\\.(\\d+)\\.(block|downsample)\\.(.+)");
    private static final Pattern VAE_UP = Pattern.compile("(decoder)\\.up\\.(\\d+)\\.(block|upsample)\\.(.+)");
    private static final Pattern VAE_MID = Pattern.compile("(encoder|decoder)\\.mid\\.(block_1|block_2|attn_1)\\.(.+)");

    private LdmKeyRules() {}

    /**
     * A U-Net key ({@code model.diffusion_model.} removed) in diffusers' naming.
     *
     * @param layersPerBlock resnets per down level (the up levels have one more)
     * @param attentionAtOne whether {@code output_blocks.i.1} is an attention (else an upsampler), per i
     */
    static String unet(String key, int layersPerBlock, java.util.function.IntPredicate attentionAtOne) {
        if (key.startsWith("time_embed.0.")) {
            return "time_embedding.linear_1." + key.substring("time_embed.0.".length());
        }
        if (key.startsWith("time_embed.2.")) {
            return "time_embedding.linear_2." + key.substring("time_embed.2.".length());
        }
        if (key.startsWith("out.0.")) {
            return "conv_norm_out." + key.substring("out.0.".length());
        }
        if (key.startsWith("out.2.")) {
            return "conv_out." + key.substring("out.2.".length());
        }
        Matcher m = INPUT_BLOCK.matcher(key);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(1));
            int j = Integer.parseInt(m.group(2));
            String rest = m.group(3);
            if (i == 0) {
                return "conv_in." + rest;
            }
            int block = (i - 1) / (layersPerBlock + 1);
            int layer = (i - 1) % (layersPerBlock + 1);
            if (rest.startsWith("op.")) {
                return "down_blocks." + block + ".downsamplers.0.conv." + rest.substring(3);
            }
            return j == 0 ? "down_blocks." + block + ".resnets." + layer + "." + resnet(rest)
                    : "down_blocks." + block + ".attentions." + layer + "." + rest;
        }
        m = MIDDLE_BLOCK.matcher(key);
        if (m.matches()) {
            int j = Integer.parseInt(m.group(1));
            String rest = m.group(2);
            return switch (j) {
                case 0 -> "mid_block.resnets.0." + resnet(rest);
                case 1 -> "mid_block.attentions.0." + rest;
                default -> "mid_block.resnets." + (j - 1) + "." + resnet(rest);
            };
        }
        m = OUTPUT_BLOCK.matcher(key);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(1));
            int j = Integer.parseInt(m.group(2));
            String rest = m.group(3);
            int block = i / (layersPerBlock + 1);
            int layer = i % (layersPerBlock + 1);
            if (j == 0) {
                return "up_blocks." + block + ".resnets." + layer + "." + resnet(rest);
            }
            if (j == 1 && attentionAtOne.test(i)) {
                return "up_blocks." + block + ".attentions." + layer + "." + rest;
            }
            return "up_blocks." + block + ".upsamplers.0." + rest;
        }
        return null;
    }

    private static String resnet(String rest) {
        return rest.replace("in_layers.0.", "norm1.").replace("in_layers.2.", "conv1.")
                .replace("out_layers.0.", "norm2.").replace("out_layers.3.", "conv2.")
                .replace("emb_layers.1.", "time_emb_proj.").replace("skip_connection.", "conv_shortcut.");
    }

    /** A VAE key ({@code first_stage_model.} removed) in diffusers' naming; {@code upLevels} counts decoder levels. */
    static String vae(String key, int upLevels) {
        if (key.startsWith("quant_conv.") || key.startsWith("post_quant_conv.")) {
            return key;
        }
        for (String part : new String[] {"encoder.", "decoder."}) {
            if (key.startsWith(part + "conv_in.") || key.startsWith(part + "conv_out.")) {
                return key;
            }
            if (key.startsWith(part + "norm_out.")) {
                return part + "conv_norm_out." + key.substring((part + "norm_out.").length());
            }
        }
        Matcher m = VAE_DOWN.matcher(key);
        if (m.matches()) {
            String rest = m.group(4);
            return m.group(3).equals("block")
                    ? "encoder.down_blocks." + m.group(2) + ".resnets." + vaeResnet(rest)
                    : "encoder.down_blocks." + m.group(2) + ".downsamplers.0." + rest;
        }
        m = VAE_UP.matcher(key);
        if (m.matches()) {
            int level = upLevels - 1 - Integer.parseInt(m.group(2));
            String rest = m.group(4);
            return m.group(3).equals("block")
                    ? "decoder.up_blocks." + level + ".resnets." + vaeResnet(rest)
                    : "decoder.up_blocks." + level + ".upsamplers.0." + rest;
        }
        m = VAE_MID.matcher(key);
        if (m.matches()) {
            String prefix = m.group(1) + ".mid_block.";
            String rest = m.group(3);
            return switch (m.group(2)) {
                case "block_1" -> prefix + "resnets.0." + vaeResnet(rest);
                case "block_2" -> prefix + "resnets.1." + vaeResnet(rest);
                default -> prefix + "attentions.0." + vaeAttention(rest);
            };
        }
        return null;
    }

    private static String vaeAttention(String rest) {
        int dot = rest.indexOf('.');
        String layer = switch (rest.substring(0, dot)) {
            case "norm" -> "group_norm";
            case "q" -> "to_q";
            case "k" -> "to_k";
            case "v" -> "to_v";
            case "proj_out" -> "to_out.0";
            default -> rest.substring(0, dot);
        };
        return layer + rest.substring(dot);
    }

    private static String vaeResnet(String rest) {
        return rest.replace("nin_shortcut.", "conv_shortcut.");
    }

    /** Whether a converted VAE key is one of the mid attention's projections, stored as 1x1 convolutions there. */
    static boolean isVaeAttentionProjection(String diffusersKey) {
        return diffusersKey.contains("mid_block.attentions.0.to_");
    }
}
