package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/** torch's {@code nn.GroupNorm} on channels-last tensors, with an optional fused SiLU. */
public final class GroupNorm implements AutoCloseable {
    private final Backend backend;
    private final int groups;
    private final Tensor gamma;
    private final Tensor beta;
    private final float eps;

    public GroupNorm(Weights w, int groups, int channels, double eps) {
        if (channels % groups != 0) {
            throw new IllegalArgumentException(w.prefix() + ": " + channels + " channels do not split into " + groups
                    + " groups (norm_num_groups)");
        }
        this.backend = w.backend();
        this.groups = groups;
        this.gamma = w.tensor("weight", channels);
        this.beta = w.tensor("bias", channels);
        this.eps = (float) eps;
    }

    public Tensor forward(Tensor x) {
        return backend.groupNorm(x, groups, gamma, beta, eps, false);
    }

    /** {@code silu(groupNorm(x))}, in one pass. */
    public Tensor forwardSilu(Tensor x) {
        return backend.groupNorm(x, groups, gamma, beta, eps, true);
    }

    @Override
    public void close() {
        gamma.close();
        beta.close();
    }
}
