package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/** diffusers' GEGLU {@code FeedForward}: {@code net.2(hidden * gelu(gate))}, {@code [hidden | gate] = net.0.proj(x)}. */
public final class FeedForward implements AutoCloseable {
    private final Backend backend;
    private final Linear projection;
    private final Linear output;

    public FeedForward(Weights w, int dim, int innerDim) {
        this.backend = w.backend();
        this.projection = new Linear(w.at("net.0.proj"), dim, 2 * innerDim, true);
        this.output = new Linear(w.at("net.2"), innerDim, dim, true);
    }

    public Tensor forward(Tensor x) {
        return forward(x, null);
    }

    /** As {@link #forward(Tensor)}, plus {@code residual} (of {@code x}'s shape, or null). */
    public Tensor forward(Tensor x, Tensor residual) {
        try (Tensor projected = projection.forward(x); Tensor gated = backend.geglu(projected)) {
            return output.forward(gated, residual);
        }
    }

    @Override
    public void close() {
        projection.close();
        output.close();
    }
}
