package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/**
 * diffusers' {@code Attention}: multi-head scaled dot-product attention with {@code to_q}, {@code to_k},
 * {@code to_v} and {@code to_out.0} projections. Self-attention when no context is given, cross-attention
 * on the context (the text embeddings) otherwise.
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
     * @param x {@code [batch, tokens, queryDim]}
     * @param context {@code [batch, contextTokens, contextDim]}, or null for self-attention
     */
    public Tensor forward(Tensor x, Tensor context) {
        return forward(x, context, null);
    }

    /** As {@link #forward(Tensor, Tensor)}, plus {@code residual} ({@code [batch, tokens, queryDim]}, or null). */
    public Tensor forward(Tensor x, Tensor context, Tensor residual) {
        Tensor source = context == null ? x : context;
        try (Tensor q = toQ.forward(x); Tensor k = toK.forward(source); Tensor v = toV.forward(source);
                Tensor attended = backend.attention(q, k, v, heads, scale, false)) {
            return toOut.forward(attended, residual);
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
