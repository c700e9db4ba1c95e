package dev.jdiffusion.models.clip;

import dev.jdiffusion.models.ConfigValues;
import dev.jdiffusion.tensor.Activation;
import java.nio.file.Path;

/**
 * The text tower of CLIP as transformers' {@code CLIPTextConfig} describes it in {@code config.json}.
 *
 * @param eosTokenId where pooling reads: the first position holding this id (an id of 2, from configs
 *     older than transformers 4.31, means the position of the largest id, as transformers does then)
 */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
        int numAttentionHeads, int maxPositionEmbeddings, Activation hiddenAct, double layerNormEps, int eosTokenId) {

    public ClipTextConfig {
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not a multiple of num_attention_heads "
                    + numAttentionHeads);
        }
    }

    /** SD 1.x's text encoder: OpenAI CLIP ViT-L/14. */
    public static ClipTextConfig sd15() {
        return new ClipTextConfig(49408, 768, 3072, 12, 12, 77, Activation.QUICK_GELU, 1e-5, 2);
    }

    public static ClipTextConfig read(Path configJson) {
        return from(ConfigValues.read(configJson));
    }

    public static ClipTextConfig from(ConfigValues c) {
        return new ClipTextConfig(
                c.getInt("vocab_size"),
                c.getInt("hidden_size"),
                c.getInt("intermediate_size"),
                c.getInt("num_hidden_layers"),
                c.getInt("num_attention_heads"),
                c.getInt("max_position_embeddings", 77),
                Activation.fromConfig(c.getString("hidden_act", "quick_gelu")),
                c.getDouble("layer_norm_eps", 1e-5),
                c.getInt("eos_token_id", 2));
    }

    /** The config of a CLIP text tower read off its tensors (64-wide heads), with the given activation. */
    public static ClipTextConfig inferFrom(dev.jdiffusion.weights.TensorSource weights, Activation activation) {
        var tokens = weights.get("text_model.embeddings.token_embedding.weight");
        int layers = 0;
        while (weights.contains("text_model.encoder.layers." + layers + ".mlp.fc1.weight")) {
            layers++;
        }
        int hidden = (int) tokens.dim(1);
        return new ClipTextConfig((int) tokens.dim(0), hidden,
                (int) weights.get("text_model.encoder.layers.0.mlp.fc1.weight").dim(0), layers, hidden / 64,
                (int) weights.get("text_model.embeddings.position_embedding.weight").dim(0), activation, 1e-5, 2);
    }

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }
}
