package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Tensor;

/** {@code y = x W^T + b}, torch's {@code nn.Linear}: {@code weight [out, in]}, optional {@code bias [out]}. */
public final class Linear implements AutoCloseable {
    private final Backend backend;
    private final LinearWeight weight;
    private final Tensor bias;

    public Linear(Weights w, int in, int out, boolean withBias) {
        this.backend = w.backend();
        this.weight = w.linear("weight", out, in);
        this.bias = withBias ? w.tensor("bias", out) : null;
    }

    public Tensor forward(Tensor x) {
        return backend.linear(x, weight, bias);
    }

    /** {@code x W^T + b + residual}, the residual (of the result's shape) left as it is. */
    public Tensor forward(Tensor x, Tensor residual) {
        return backend.linear(x, weight, bias, residual);
    }

    @Override
    public void close() {
        weight.close();
        if (bias != null) {
            bias.close();
        }
    }
}
