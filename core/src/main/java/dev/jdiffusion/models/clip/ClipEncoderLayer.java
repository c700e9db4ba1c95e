package dev.jdiffusion.models.clip;

import dev.jdiffusion.nn.LayerNorm;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/** One pre-norm transformer layer: {@code x += attn(ln1(x)); x += mlp(ln2(x))}. */
final class ClipEncoderLayer implements AutoCloseable {
    private final Backend backend;
    private final LayerNorm layerNorm1;
    private final ClipAttention selfAttention;
    private final LayerNorm layerNorm2;
    private final ClipMlp mlp;

    ClipEncoderLayer(Weights w, ClipTextConfig config) {
        this.backend = w.backend();
        this.layerNorm1 = new LayerNorm(w.at("layer_norm1"), config.hiddenSize(), config.layerNormEps());
        this.selfAttention = new ClipAttention(w.at("self_attn"), config);
        this.layerNorm2 = new LayerNorm(w.at("layer_norm2"), config.hiddenSize(), config.layerNormEps());
        this.mlp = new ClipMlp(w.at("mlp"), config);
    }

    /** Updates {@code x} in place. */
    void forward(Tensor x) {
        try (Tensor normed = layerNorm1.forward(x); Tensor attended = selfAttention.forward(normed)) {
            backend.addInPlace(x, attended);
        }
        try (Tensor normed = layerNorm2.forward(x); Tensor transformed = mlp.forward(normed)) {
            backend.addInPlace(x, transformed);
        }
    }

    @Override
    public void close() {
        layerNorm1.close();
        selfAttention.close();
        layerNorm2.close();
        mlp.close();
    }
}
