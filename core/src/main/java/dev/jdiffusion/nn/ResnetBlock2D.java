package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Tensor;

/**
 * diffusers' {@code ResnetBlock2D}: {@code x + conv2(silu(norm2(conv1(silu(norm1(x))) + proj(silu(temb)))))},
 * with a 1x1 {@code conv_shortcut} on x when the channel count changes. Without a time embedding (the
 * VAE's blocks) the projection is absent.
 */
public final class ResnetBlock2D implements AutoCloseable {
    private final Backend backend;
    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final Linear timeEmbeddingProjection;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d shortcut;
    private final int outChannels;

    /** @param timeEmbeddingChannels the width of the time embedding, or 0 for none */
    public ResnetBlock2D(Weights w, int in, int out, int timeEmbeddingChannels, int groups, double eps) {
        this.backend = w.backend();
        this.norm1 = new GroupNorm(w.at("norm1"), groups, in, eps);
        this.conv1 = Conv2d.same(w.at("conv1"), in, out, 3);
        this.timeEmbeddingProjection = timeEmbeddingChannels > 0
                ? new Linear(w.at("time_emb_proj"), timeEmbeddingChannels, out, true) : null;
        this.norm2 = new GroupNorm(w.at("norm2"), groups, out, eps);
        this.conv2 = Conv2d.same(w.at("conv2"), out, out, 3);
        this.shortcut = in != out ? Conv2d.same(w.at("conv_shortcut"), in, out, 1) : null;
        this.outChannels = out;
    }

    /** The channels of its output. */
    public int outChannels() {
        return outChannels;
    }

    /**
     * @param x {@code [batch, height, width, in]}
     * @param siluTimeEmbedding {@code silu(temb)} {@code [batch, channels]}, or {@code [1, channels]} for every
     *     item, shared by every block of a model (computed once); null without a time embedding
     */
    public Tensor forward(Tensor x, Tensor siluTimeEmbedding) {
        Tensor h;
        try (Tensor normed = norm1.forwardSilu(x)) {
            h = conv1.forward(normed);
        }
        try {
            if (timeEmbeddingProjection != null) {
                try (Tensor t = timeEmbeddingProjection.forward(siluTimeEmbedding)) {
                    addPerItem(h, t);
                }
            }
            try (Tensor normed = norm2.forwardSilu(h)) {
                if (shortcut == null) {
                    return conv2.forward(normed, x);
                }
                try (Tensor skip = shortcut.forward(x)) {
                    return conv2.forward(normed, skip);
                }
            }
        } finally {
            h.close();
        }
    }

    /** Adds the projected time embedding to every position of its item, one embedding for all where it is alone. */
    private void addPerItem(Tensor h, Tensor t) {
        if (t.dim(0) == 1 && h.dim(0) > 1) {
            try (Tensor perItem = backend.repeatBatch(t, h.dim(0))) {
                backend.addPerItem(h, perItem);
            }
        } else {
            backend.addPerItem(h, t);
        }
    }

    /** {@code silu(temb)}, the form {@link #forward} takes. */
    public static Tensor siluOf(Backend backend, Tensor timeEmbedding) {
        return backend.activation(timeEmbedding, Activation.SILU);
    }

    @Override
    public void close() {
        norm1.close();
        conv1.close();
        if (timeEmbeddingProjection != null) {
            timeEmbeddingProjection.close();
        }
        norm2.close();
        conv2.close();
        if (shortcut != null) {
            shortcut.close();
        }
    }
}
