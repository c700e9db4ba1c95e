package dev.jdiffusion.weights.checkpoint;

import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.WeightsException;
import dev.jdiffusion.weights.safetensors.SafetensorsFile;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * SD 2.x's OpenCLIP ViT-H/14 text tower, stored in the single-file layout under
 * {@code cond_stage_model.model.*}, in transformers' CLIP names as diffusers converts it: the fused
 * {@code in_proj} split into q, k and v (slices of the stored rows, no copy), and the last of the 24
 * layers left out, since Stable Diffusion 2 conditions on the penultimate layer.
 */
final class OpenClipNames {
    private static final Pattern BLOCK = Pattern.compile("transformer\\.resblocks\\.(\\d+)\\.(.+)");

    private OpenClipNames() {}

    static TensorSource textEncoder(SafetensorsFile file, String prefix, Path path) {
        int layers = 0;
        for (String n : file.names()) {
            if (n.startsWith(prefix)) {
                Matcher m = BLOCK.matcher(n.substring(prefix.length()));
                if (m.matches()) {
                    layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
                }
            }
        }
        if (layers < 2) {
            throw new WeightsException(path + ": the OpenCLIP text encoder has no transformer layers");
        }
        int used = layers - 1;
        RenamedTensorSource.Builder b = new RenamedTensorSource.Builder(path + " (text encoder)");
        for (String n : file.names()) {
            if (!n.startsWith(prefix)) {
                continue;
            }
            String key = n.substring(prefix.length());
            RawTensor t = file.get(n);
            switch (key) {
                case "token_embedding.weight" -> b.put("text_model.embeddings.token_embedding.weight", t, t.shape());
                case "positional_embedding" -> b.put("text_model.embeddings.position_embedding.weight", t, t.shape());
                case "ln_final.weight" -> b.put("text_model.final_layer_norm.weight", t, t.shape());
                case "ln_final.bias" -> b.put("text_model.final_layer_norm.bias", t, t.shape());
                default -> {
                    Matcher m = BLOCK.matcher(key);
                    if (m.matches() && Integer.parseInt(m.group(1)) < used) {
                        layer(b, "text_model.encoder.layers." + m.group(1) + ".", m.group(2), t);
                    }
                }
            }
        }
        return b.build();
    }

    private static void layer(RenamedTensorSource.Builder b, String target, String rest, RawTensor t) {
        switch (rest) {
            case "attn.in_proj_weight", "attn.in_proj_bias" -> {
                long width = t.dim(0) / 3;
                long rowBytes = t.data().byteSize() / t.dim(0);
                boolean weight = rest.endsWith("weight");
                String[] names = {"q_proj", "k_proj", "v_proj"};
                for (int i = 0; i < 3; i++) {
                    long[] shape = weight ? new long[] {width, t.dim(1)} : new long[] {width};
                    RawTensor slice = new RawTensor(t.name(), t.dtype(), shape,
                            t.data().asSlice(i * width * rowBytes, width * rowBytes));
                    b.put(target + "self_attn." + names[i] + (weight ? ".weight" : ".bias"), slice, shape);
                }
            }
            case "attn.out_proj.weight" -> b.put(target + "self_attn.out_proj.weight", t, t.shape());
            case "attn.out_proj.bias" -> b.put(target + "self_attn.out_proj.bias", t, t.shape());
            case "ln_1.weight" -> b.put(target + "layer_norm1.weight", t, t.shape());
            case "ln_1.bias" -> b.put(target + "layer_norm1.bias", t, t.shape());
            case "ln_2.weight" -> b.put(target + "layer_norm2.weight", t, t.shape());
            case "ln_2.bias" -> b.put(target + "layer_norm2.bias", t, t.shape());
            case "mlp.c_fc.weight" -> b.put(target + "mlp.fc1.weight", t, t.shape());
            case "mlp.c_fc.bias" -> b.put(target + "mlp.fc1.bias", t, t.shape());
            case "mlp.c_proj.weight" -> b.put(target + "mlp.fc2.weight", t, t.shape());
            case "mlp.c_proj.bias" -> b.put(target + "mlp.fc2.bias", t, t.shape());
            default -> { }
        }
    }
}
