package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/**
 * diffusers' {@code Attention}: multi-head scaled dot-product attention with {@code to_q}, {@code to_k},
 * {@code to_v} and {@code to_out.0} projections: self-attention, or cross-attention on the text embeddings,
 * whose keys and values a {@link TextConditioning} keeps from step to step.
 */
public final class Attention implements AutoCloseable {
    private final Backend backend;
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;
    private final int heads;
    private final float scale;

    /**
     * @param queryDim width of the input
     * @param contextDim width of the context ({@code queryDim} for self-attention)
     * @param qkvBias whether q/k/v have biases (the VAE's attention does, the U-Net's do not)
     */
    public Attention(Weights w, int queryDim, int contextDim, int heads, int headDim, boolean qkvBias) {
        int inner = heads * headDim;
        this.backend = w.backend();
        this.toQ = new Linear(w.at("to_q"), queryDim, inner, qkvBias);
        this.toK = new Linear(w.at("to_k"), contextDim, inner, qkvBias);
        this.toV = new Linear(w.at("to_v"), contextDim, inner, qkvBias);
        this.toOut = new Linear(w.at("to_out.0"), inner, queryDim, true);
        this.heads = heads;
        this.scale = (float) (1 / Math.sqrt(headDim));
    }

    /**
     * Self-attention: {@code x} ({@code [batch, tokens, queryDim]}) attends to itself; plus {@code residual}
     * ({@code [batch, tokens, queryDim]}, or null).
     */
    public Tensor forward(Tensor x, Tensor residual) {
        try (KeysAndValues kv = project(x)) {
            return attend(x, kv.keys(), kv.values(), residual);
        }
    }

    /**
     * Cross-attention: {@code x} ({@code [batch, tokens, queryDim]}) attends to the text, whose keys and values
     * {@code text} projects once and keeps; plus {@code residual} ({@code [batch, tokens, queryDim]}, or null).
     */
    public Tensor forward(Tensor x, TextConditioning text, Tensor residual) {
        KeysAndValues kv = text.keysAndValuesOf(this);
        return attend(x, kv.keys(), kv.values(), residual);
    }

    private Tensor attend(Tensor x, Tensor k, Tensor v, Tensor residual) {
        try (Tensor q = toQ.forward(x); Tensor attended = backend.attention(q, k, v, heads, scale, false)) {
            return toOut.forward(attended, residual);
        }
    }

    /** The keys and values of {@code context} ({@code [batch, contextTokens, contextDim]}). */
    KeysAndValues project(Tensor context) {
        Tensor k = toK.forward(context);
        try {
            return new KeysAndValues(k, toV.forward(context));
        } catch (RuntimeException e) {
            k.close();
            throw e;
        }
    }

    /** The projections of a context by {@code to_k} and {@code to_v}. */
    record KeysAndValues(Tensor keys, Tensor values) implements AutoCloseable {
        @Override
        public void close() {
            keys.close();
            values.close();
        }
    }

    @Override
    public void close() {
        toQ.close();
        toK.close();
        toV.close();
        toOut.close();
    }
}
