package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/** torch's {@code nn.LayerNorm} over the last dimension: {@code weight [width]}, {@code bias [width]}. */
public final class LayerNorm implements AutoCloseable {
    private final Backend backend;
    private final Tensor gamma;
    private final Tensor beta;
    private final float eps;

    public LayerNorm(Weights w, int width, double eps) {
        this.backend = w.backend();
        this.gamma = w.tensor("weight", width);
        this.beta = w.tensor("bias", width);
        this.eps = (float) eps;
    }

    public Tensor forward(Tensor x) {
        return backend.layerNorm(x, gamma, beta, eps);
    }

    @Override
    public void close() {
        gamma.close();
        beta.close();
    }
}
