package dev.jdiffusion.models.synthetic;

import dev.jdiffusion.models.clip.ClipTextConfig;
import dev.jdiffusion.models.unet.UNet2DConditionConfig;
import dev.jdiffusion.models.vae.AutoencoderKLConfig;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.json.Json;
import dev.jdiffusion.weights.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a Stable Diffusion model with random weights of the exact shapes of a real one (SD 1.5 by
 * default: U-Net 320/640/1280/1280 with 8 heads and cross width 768, VAE 128/256/512/512, CLIP
 * ViT-L/14 text tower) as a diffusers folder: {@code unet/}, {@code vae/}, {@code text_encoder/} with
 * their {@code config.json} and safetensors weights, {@code scheduler/}, and {@code model_index.json}.
 * It lets full-size behaviour, speed and memory be measured where real weights cannot be had.
 *
 * <p>Deterministic: every tensor's values depend only on the seed and the tensor's name. Weights are
 * scaled by fan-in and norms start at identity, so activations stay finite through every block. The
 * tokenizer is not written (its vocabulary is not ours to ship): copy a {@code tokenizer/} folder in.
 */
public final class SyntheticStableDiffusion {
    private SyntheticStableDiffusion() {}

    /** Writes the SD 1.5-shaped model into {@code folder} with weights stored as {@code dtype}. */
    public static void writeSd15(Path folder, long seed, DType dtype) {
        write(folder, seed, dtype, UNet2DConditionConfig.sd15(), AutoencoderKLConfig.sd15(), ClipTextConfig.sd15());
    }

    public static void write(Path folder, long seed, DType dtype, UNet2DConditionConfig unet, AutoencoderKLConfig vae,
            ClipTextConfig clip) {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("weights can be written as F32, F16 or BF16, not " + dtype);
        }
        writeModel(folder.resolve("unet"), "diffusion_pytorch_model.safetensors", unetPlan(unet), seed, dtype,
                unetConfig(unet));
        writeModel(folder.resolve("vae"), "diffusion_pytorch_model.safetensors", vaePlan(vae), seed, dtype, vaeConfig(vae));
        writeModel(folder.resolve("text_encoder"), "model.safetensors", clipPlan(clip), seed, dtype, clipConfig(clip));
        Map<String, Object> scheduler = new LinkedHashMap<>();
        scheduler.put("_class_name", "PNDMScheduler");
        scheduler.put("beta_start", 0.00085);
        scheduler.put("beta_end", 0.012);
        scheduler.put("beta_schedule", "scaled_linear");
        scheduler.put("num_train_timesteps", 1000L);
        scheduler.put("set_alpha_to_one", false);
        scheduler.put("skip_prk_steps", true);
        scheduler.put("steps_offset", 1L);
        scheduler.put("prediction_type", "epsilon");
        writeJson(folder.resolve("scheduler").resolve("scheduler_config.json"), scheduler);
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("_class_name", "StableDiffusionPipeline");
        index.put("scheduler", List.of("diffusers", "PNDMScheduler"));
        index.put("text_encoder", List.of("transformers", "CLIPTextModel"));
        index.put("tokenizer", List.of("transformers", "CLIPTokenizer"));
        index.put("unet", List.of("diffusers", "UNet2DConditionModel"));
        index.put("vae", List.of("diffusers", "AutoencoderKL"));
        writeJson(folder.resolve("model_index.json"), index);
    }

    // ------------------------------------------------------------------ plans (diffusers / transformers names)

    static TensorPlan unetPlan(UNet2DConditionConfig c) {
        TensorPlan p = new TensorPlan();
        int[] ch = c.blockOutChannels();
        int levels = c.levels();
        int temb = c.timeEmbeddingDim();
        p.linear("time_embedding.linear_1", ch[0], temb, true);
        p.linear("time_embedding.linear_2", temb, temb, true);
        p.conv("conv_in", c.inChannels(), ch[0], 3);
        int in = ch[0];
        for (int level = 0; level < levels; level++) {
            String block = "down_blocks." + level;
            int out = ch[level];
            boolean attention = c.downBlockTypes().get(level).equals("CrossAttnDownBlock2D");
            for (int i = 0; i < c.layersPerBlock(); i++) {
                resnet(p, block + ".resnets." + i, i == 0 ? in : out, out, temb);
                if (attention) {
                    transformer(p, block + ".attentions." + i, out, c);
                }
            }
            if (level < levels - 1) {
                p.conv(block + ".downsamplers.0.conv", out, out, 3);
            }
            in = out;
        }
        int top = ch[levels - 1];
        resnet(p, "mid_block.resnets.0", top, top, temb);
        transformer(p, "mid_block.attentions.0", top, c);
        resnet(p, "mid_block.resnets.1", top, top, temb);
        for (int i = 0; i < levels; i++) {
            String block = "up_blocks." + i;
            int out = ch[levels - 1 - i];
            int previous = ch[levels - 1 - Math.max(0, i - 1)];
            int skipIn = ch[Math.max(0, levels - 2 - i)];
            boolean attention = c.upBlockTypes().get(i).equals("CrossAttnUpBlock2D");
            for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                int skip = j == c.layersPerBlock() ? skipIn : out;
                resnet(p, block + ".resnets." + j, (j == 0 ? previous : out) + skip, out, temb);
                if (attention) {
                    transformer(p, block + ".attentions." + j, out, c);
                }
            }
            if (i < levels - 1) {
                p.conv(block + ".upsamplers.0.conv", out, out, 3);
            }
        }
        p.norm("conv_norm_out", ch[0]);
        p.conv("conv_out", ch[0], c.outChannels(), 3);
        return p;
    }

    private static void resnet(TensorPlan p, String prefix, int in, int out, int temb) {
        p.norm(prefix + ".norm1", in);
        p.conv(prefix + ".conv1", in, out, 3);
        if (temb > 0) {
            p.linear(prefix + ".time_emb_proj", temb, out, true);
        }
        p.norm(prefix + ".norm2", out);
        p.conv(prefix + ".conv2", out, out, 3);
        if (in != out) {
            p.conv(prefix + ".conv_shortcut", in, out, 1);
        }
    }

    private static void transformer(TensorPlan p, String prefix, int channels, UNet2DConditionConfig c) {
        p.norm(prefix + ".norm", channels);
        if (c.useLinearProjection()) {
            p.linear(prefix + ".proj_in", channels, channels, true);
        } else {
            p.conv(prefix + ".proj_in", channels, channels, 1);
        }
        for (int layer = 0; layer < c.transformerLayersPerBlock(); layer++) {
            String block = prefix + ".transformer_blocks." + layer;
            p.norm(block + ".norm1", channels);
            attention(p, block + ".attn1", channels, channels, false);
            p.norm(block + ".norm2", channels);
            attention(p, block + ".attn2", channels, c.crossAttentionDim(), false);
            p.norm(block + ".norm3", channels);
            p.linear(block + ".ff.net.0.proj", channels, 8L * channels, true);
            p.linear(block + ".ff.net.2", 4L * channels, channels, true);
        }
        if (c.useLinearProjection()) {
            p.linear(prefix + ".proj_out", channels, channels, true);
        } else {
            p.conv(prefix + ".proj_out", channels, channels, 1);
        }
    }

    private static void attention(TensorPlan p, String prefix, int channels, int contextChannels, boolean qkvBias) {
        p.linear(prefix + ".to_q", channels, channels, qkvBias);
        p.linear(prefix + ".to_k", contextChannels, channels, qkvBias);
        p.linear(prefix + ".to_v", contextChannels, channels, qkvBias);
        p.linear(prefix + ".to_out.0", channels, channels, true);
    }

    static TensorPlan vaePlan(AutoencoderKLConfig c) {
        TensorPlan p = new TensorPlan();
        int[] ch = c.blockOutChannels();
        int levels = c.levels();
        int top = ch[levels - 1];
        p.conv("encoder.conv_in", c.inChannels(), ch[0], 3);
        int in = ch[0];
        for (int level = 0; level < levels; level++) {
            for (int i = 0; i < c.layersPerBlock(); i++) {
                resnet(p, "encoder.down_blocks." + level + ".resnets." + i, i == 0 ? in : ch[level], ch[level], 0);
            }
            if (level < levels - 1) {
                p.conv("encoder.down_blocks." + level + ".downsamplers.0.conv", ch[level], ch[level], 3);
            }
            in = ch[level];
        }
        vaeMid(p, "encoder.mid_block", top);
        p.norm("encoder.conv_norm_out", top);
        p.conv("encoder.conv_out", top, 2L * c.latentChannels(), 3);
        p.conv("quant_conv", 2L * c.latentChannels(), 2L * c.latentChannels(), 1);
        p.conv("post_quant_conv", c.latentChannels(), c.latentChannels(), 1);
        p.conv("decoder.conv_in", c.latentChannels(), top, 3);
        vaeMid(p, "decoder.mid_block", top);
        in = top;
        for (int i = 0; i < levels; i++) {
            int out = ch[levels - 1 - i];
            for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                resnet(p, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? in : out, out, 0);
            }
            if (i < levels - 1) {
                p.conv("decoder.up_blocks." + i + ".upsamplers.0.conv", out, out, 3);
            }
            in = out;
        }
        p.norm("decoder.conv_norm_out", ch[0]);
        p.conv("decoder.conv_out", ch[0], c.outChannels(), 3);
        return p;
    }

    private static void vaeMid(TensorPlan p, String prefix, int channels) {
        resnet(p, prefix + ".resnets.0", channels, channels, 0);
        p.norm(prefix + ".attentions.0.group_norm", channels);
        attention(p, prefix + ".attentions.0", channels, channels, true);
        resnet(p, prefix + ".resnets.1", channels, channels, 0);
    }

    static TensorPlan clipPlan(ClipTextConfig c) {
        TensorPlan p = new TensorPlan();
        int d = c.hiddenSize();
        p.add("text_model.embeddings.token_embedding.weight", TensorPlan.Init.EMBEDDING, c.vocabSize(), d);
        p.add("text_model.embeddings.position_embedding.weight", TensorPlan.Init.EMBEDDING, c.maxPositionEmbeddings(), d);
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String layer = "text_model.encoder.layers." + i;
            p.norm(layer + ".layer_norm1", d);
            for (String projection : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
                p.linear(layer + ".self_attn." + projection, d, d, true);
            }
            p.norm(layer + ".layer_norm2", d);
            p.linear(layer + ".mlp.fc1", d, c.intermediateSize(), true);
            p.linear(layer + ".mlp.fc2", c.intermediateSize(), d, true);
        }
        p.norm("text_model.final_layer_norm", d);
        return p;
    }

    // ------------------------------------------------------------------ configs

    private static Map<String, Object> unetConfig(UNet2DConditionConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("_class_name", "UNet2DConditionModel");
        m.put("in_channels", (long) c.inChannels());
        m.put("out_channels", (long) c.outChannels());
        m.put("block_out_channels", c.blockOutChannels());
        m.put("down_block_types", c.downBlockTypes());
        m.put("up_block_types", c.upBlockTypes());
        m.put("mid_block_type", "UNetMidBlock2DCrossAttn");
        m.put("layers_per_block", (long) c.layersPerBlock());
        m.put("attention_head_dim", c.attentionHeads());
        m.put("cross_attention_dim", (long) c.crossAttentionDim());
        m.put("norm_num_groups", (long) c.normNumGroups());
        m.put("norm_eps", c.normEps());
        m.put("use_linear_projection", c.useLinearProjection());
        m.put("flip_sin_to_cos", c.flipSinToCos());
        m.put("freq_shift", (long) c.freqShift());
        m.put("act_fn", "silu");
        m.put("sample_size", (long) c.sampleSize());
        return m;
    }

    private static Map<String, Object> vaeConfig(AutoencoderKLConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("_class_name", "AutoencoderKL");
        m.put("in_channels", (long) c.inChannels());
        m.put("out_channels", (long) c.outChannels());
        m.put("latent_channels", (long) c.latentChannels());
        m.put("block_out_channels", c.blockOutChannels());
        m.put("down_block_types", java.util.Collections.nCopies(c.levels(), "DownEncoderBlock2D"));
        m.put("up_block_types", java.util.Collections.nCopies(c.levels(), "UpDecoderBlock2D"));
        m.put("layers_per_block", (long) c.layersPerBlock());
        m.put("norm_num_groups", (long) c.normNumGroups());
        m.put("act_fn", "silu");
        m.put("scaling_factor", c.scalingFactor());
        m.put("sample_size", (long) c.sampleSize());
        return m;
    }

    private static Map<String, Object> clipConfig(ClipTextConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architectures", List.of("CLIPTextModel"));
        m.put("model_type", "clip_text_model");
        m.put("vocab_size", (long) c.vocabSize());
        m.put("hidden_size", (long) c.hiddenSize());
        m.put("intermediate_size", (long) c.intermediateSize());
        m.put("num_hidden_layers", (long) c.numHiddenLayers());
        m.put("num_attention_heads", (long) c.numAttentionHeads());
        m.put("max_position_embeddings", (long) c.maxPositionEmbeddings());
        m.put("hidden_act", c.hiddenAct().configName());
        m.put("layer_norm_eps", c.layerNormEps());
        m.put("bos_token_id", 0L);
        m.put("eos_token_id", (long) c.eosTokenId());
        return m;
    }

    // ------------------------------------------------------------------ writing

    private static void writeModel(Path folder, String fileName, TensorPlan plan, long seed, DType dtype,
            Map<String, Object> config) {
        writeJson(folder.resolve("config.json"), config);
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        plan.entries().forEach((name, entry) -> writer.add(name, dtype, entry.shape(),
                target -> fill(target, dtype, entry, new SplittableRandom(seed ^ name.hashCode() * 0x9E3779B97F4A7C15L))));
        writer.write(folder.resolve(fileName));
    }

    private static void fill(MemorySegment target, DType dtype, TensorPlan.Entry entry, SplittableRandom random) {
        long[] shape = entry.shape();
        long count = 1;
        for (long d : shape) {
            count *= d;
        }
        long fanIn = shape.length > 1 ? count / shape[0] : 1;
        double deviation = switch (entry.init()) {
            case WEIGHT -> 1 / Math.sqrt(fanIn);
            case EMBEDDING -> 0.02;
            case BIAS -> 0.01;
            case ONES, ZEROS -> 0;
        };
        float constant = entry.init() == TensorPlan.Init.ONES ? 1f : 0f;
        // uniform on [-a, a] has standard deviation a / sqrt(3)
        double halfWidth = deviation * Math.sqrt(3);
        ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        ValueLayout.OfShort f16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < count; i++) {
            float v = deviation == 0 ? constant : (float) ((2 * random.nextDouble() - 1) * halfWidth);
            switch (dtype) {
                case F32 -> target.setAtIndex(f32, i, v);
                case F16 -> target.setAtIndex(f16, i, Float.floatToFloat16(v));
                default -> target.setAtIndex(f16, i, DType.bfloat16Bits(v));
            }
        }
    }

    private static void writeJson(Path file, Map<String, Object> content) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, Json.write(content));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** Writes an SD 1.5-shaped model: {@code SyntheticStableDiffusion FOLDER [SEED] [F32|F16|BF16]}. */
    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: SyntheticStableDiffusion FOLDER [SEED] [F32|F16|BF16]");
            System.exit(2);
        }
        long seed = args.length > 1 ? Long.parseLong(args[1]) : 0;
        DType dtype = args.length > 2 ? DType.valueOf(args[2]) : DType.F16;
        long start = System.nanoTime();
        writeSd15(Path.of(args[0]), seed, dtype);
        System.out.printf("wrote %s (%s) in %.1f s%n", args[0], dtype, (System.nanoTime() - start) / 1e9);
    }
}
