package dev.jdiffusion.models.clip;

import dev.jdiffusion.nn.Linear;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/** CLIP's causal multi-head self-attention ({@code self_attn}: q/k/v/out projections with biases). */
final class ClipAttention implements AutoCloseable {
    private final Backend backend;
    private final Linear q;
    private final Linear k;
    private final Linear v;
    private final Linear out;
    private final int heads;
    private final float scale;

    ClipAttention(Weights w, ClipTextConfig config) {
        int d = config.hiddenSize();
        this.backend = w.backend();
        this.q = new Linear(w.at("q_proj"), d, d, true);
        this.k = new Linear(w.at("k_proj"), d, d, true);
        this.v = new Linear(w.at("v_proj"), d, d, true);
        this.out = new Linear(w.at("out_proj"), d, d, true);
        this.heads = config.numAttentionHeads();
        this.scale = (float) Math.pow(config.headDim(), -0.5);
    }

    /** {@code [batch, tokens, hidden]} to the same shape; token i attends to tokens 0..i. */
    Tensor forward(Tensor x) {
        try (Tensor query = q.forward(x); Tensor key = k.forward(x); Tensor value = v.forward(x);
                Tensor attended = backend.attention(query, key, value, heads, scale, true)) {
            return out.forward(attended);
        }
    }

    @Override
    public void close() {
        q.close();
        k.close();
        v.close();
        out.close();
    }
}
