package dev.jdiffusion.models.vae;

import dev.jdiffusion.nn.GroupNorm;
import dev.jdiffusion.nn.Linear;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/**
 * The VAE's mid-block attention: group norm, single-head self-attention over all pixels (q/k/v with
 * biases), output projection, plus the input. Reads diffusers' current names ({@code to_q}, ...,
 * {@code to_out.0}) or the older ones ({@code query}, {@code key}, {@code value}, {@code proj_attn}).
 */
final class VaeAttention implements AutoCloseable {
    private static final double EPS = 1e-6;

    private final Backend backend;
    private final GroupNorm norm;
    private final Linear q;
    private final Linear k;
    private final Linear v;
    private final Linear out;
    private final float scale;

    VaeAttention(Weights w, int channels, int groups) {
        boolean legacy = !w.contains("to_q.weight") && w.contains("query.weight");
        this.backend = w.backend();
        this.norm = new GroupNorm(w.at("group_norm"), groups, channels, EPS);
        this.q = new Linear(w.at(legacy ? "query" : "to_q"), channels, channels, true);
        this.k = new Linear(w.at(legacy ? "key" : "to_k"), channels, channels, true);
        this.v = new Linear(w.at(legacy ? "value" : "to_v"), channels, channels, true);
        this.out = new Linear(w.at(legacy ? "proj_attn" : "to_out.0"), channels, channels, true);
        this.scale = (float) (1 / Math.sqrt(channels));
    }

    /** {@code [batch, height, width, channels]} to the same shape. */
    Tensor forward(Tensor x) {
        int batch = x.dim(0);
        int tokens = x.dim(1) * x.dim(2);
        int channels = x.dim(3);
        try (Tensor normed = norm.forward(x); Tensor sequence = normed.reshape(batch, tokens, channels);
                Tensor query = q.forward(sequence); Tensor key = k.forward(sequence); Tensor value = v.forward(sequence);
                Tensor attended = backend.attention(query, key, value, 1, scale, false)) {
            return out.forward(attended, x.reshape(batch, tokens, channels)).reshapeOwned(x.shape());
        }
    }

    @Override
    public void close() {
        norm.close();
        q.close();
        k.close();
        v.close();
        out.close();
    }
}
