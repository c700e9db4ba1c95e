package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Tensor;

/**
 * diffusers' {@code BasicTransformerBlock} as Stable Diffusion uses it: pre-norm self-attention,
 * cross-attention on the text, and a GEGLU feed-forward, each added back onto its input.
 */
public final class BasicTransformerBlock implements AutoCloseable {
    private static final double LAYER_NORM_EPS = 1e-5;

    private final LayerNorm norm1;
    private final Attention selfAttention;
    private final LayerNorm norm2;
    private final Attention crossAttention;
    private final LayerNorm norm3;
    private final FeedForward feedForward;

    public BasicTransformerBlock(Weights w, int dim, int heads, int headDim, int crossAttentionDim) {
        this.norm1 = new LayerNorm(w.at("norm1"), dim, LAYER_NORM_EPS);
        this.selfAttention = new Attention(w.at("attn1"), dim, dim, heads, headDim, false);
        this.norm2 = new LayerNorm(w.at("norm2"), dim, LAYER_NORM_EPS);
        this.crossAttention = new Attention(w.at("attn2"), dim, crossAttentionDim, heads, headDim, false);
        this.norm3 = new LayerNorm(w.at("norm3"), dim, LAYER_NORM_EPS);
        this.feedForward = new FeedForward(w.at("ff"), dim, 4 * dim);
    }

    /**
     * {@code x} ({@code [batch, tokens, dim]}) through the block, as a new tensor; {@code x} is left as it is. Each
     * part's input is added back by its last product, which a backend may do as it stores the product.
     *
     * <p>{@code x} may also be one item shared by every text of {@code text} ({@code [1, tokens, dim]}): the
     * self-attention, which does not see the text, then runs once, and the output has the text's batch.
     */
    public Tensor forward(Tensor x, TextConditioning text) {
        int batch = text.batch();
        if (x.dim(0) != batch && x.dim(0) != 1) {
            throw new IllegalArgumentException("a transformer block's input has " + x.dim(0) + " items, its text "
                    + batch + "; give as many, or one for all");
        }
        Tensor selfAttended;
        try (Tensor n = norm1.forward(x)) {
            selfAttended = selfAttention.forward(n, x);
        }
        Tensor afterSelf = selfAttended.dim(0) == batch ? selfAttended : repeatedAndClosed(selfAttended, batch);
        Tensor afterCross;
        try (afterSelf; Tensor n = norm2.forward(afterSelf)) {
            afterCross = crossAttention.forward(n, text, afterSelf);
        }
        try (afterCross; Tensor n = norm3.forward(afterCross)) {
            return feedForward.forward(n, afterCross);
        }
    }

    private static Tensor repeatedAndClosed(Tensor shared, int batch) {
        try (shared) {
            return shared.backend().repeatBatch(shared, batch);
        }
    }

    @Override
    public void close() {
        norm1.close();
        selfAttention.close();
        norm2.close();
        crossAttention.close();
        norm3.close();
        feedForward.close();
    }
}
