package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Tensor;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The text embeddings a U-Net's cross-attentions attend to (diffusers' {@code encoder_hidden_states}), held for
 * the steps of a generation. Each cross-attention projects the text to its keys and values, and every step
 * would project the same text again: a conditioning keeps them from the first step that computes them until it
 * is closed, so that later steps skip those products. The results are the same, bit for bit.
 *
 * <p>It does not own the embeddings, which must stay open and unchanged while it is in use. One conditioning
 * may serve several models (each attention keeps its own keys and values) and several threads.
 */
public final class TextConditioning implements AutoCloseable {
    private final Tensor states;
    private final Map<Attention, Attention.KeysAndValues> projected = new IdentityHashMap<>();
    private boolean closed;

    /** @param states {@code [batch, tokens, width]}, the text encoder's output for each batch item */
    public TextConditioning(Tensor states) {
        this.states = Objects.requireNonNull(states, "states");
    }

    /** The embeddings, {@code [batch, tokens, width]}. */
    public Tensor states() {
        return states;
    }

    /** The batch, one item per text. */
    public int batch() {
        return states.dim(0);
    }

    /** {@code attention}'s keys and values of the text: projected on its first call, kept after. */
    synchronized Attention.KeysAndValues keysAndValuesOf(Attention attention) {
        if (closed) {
            throw new IllegalStateException("this text conditioning has been closed");
        }
        Attention.KeysAndValues kv = projected.get(attention);
        if (kv == null) {
            kv = attention.project(states);
            projected.put(attention, kv);
        }
        return kv;
    }

    /** Frees the keys and values kept so far; the embeddings stay the caller's. */
    @Override
    public synchronized void close() {
        closed = true;
        projected.values().forEach(Attention.KeysAndValues::close);
        projected.clear();
    }
}
