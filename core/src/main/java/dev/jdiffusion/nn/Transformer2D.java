package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code Transformer2DModel}: group norm, {@code proj_in}, transformer blocks over the pixels
 * as tokens, {@code proj_out}, plus the input. On channels-last tensors the pixels already are a token
 * sequence, so {@code proj_in}/{@code proj_out} are matrix products whether stored as SD 1.x's 1x1
 * convolutions ({@code [out, in, 1, 1]}) or SD 2.x's linear layers ({@code [out, in]}).
 */
public final class Transformer2D implements AutoCloseable {
    private static final double GROUP_NORM_EPS = 1e-6;

    private final Backend backend;
    private final GroupNorm norm;
    private final LinearWeight projIn;
    private final Tensor projInBias;
    private final List<BasicTransformerBlock> blocks;
    private final LinearWeight projOut;
    private final Tensor projOutBias;

    /** @param linearProjection SD 2.x's {@code use_linear_projection} (stored shapes differ, the maths does not) */
    public Transformer2D(Weights w, int channels, int heads, int headDim, int layers, int groups, int crossAttentionDim,
            boolean linearProjection) {
        int inner = heads * headDim;
        this.backend = w.backend();
        this.norm = new GroupNorm(w.at("norm"), groups, channels, GROUP_NORM_EPS);
        this.projIn = linearProjection ? w.at("proj_in").linear("weight", inner, channels)
                : w.at("proj_in").linear("weight", inner, channels, 1, 1);
        this.projInBias = w.at("proj_in").tensor("bias", inner);
        List<BasicTransformerBlock> built = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            built.add(new BasicTransformerBlock(w.at("transformer_blocks").at(i), inner, heads, headDim, crossAttentionDim));
        }
        this.blocks = List.copyOf(built);
        this.projOut = linearProjection ? w.at("proj_out").linear("weight", channels, inner)
                : w.at("proj_out").linear("weight", channels, inner, 1, 1);
        this.projOutBias = w.at("proj_out").tensor("bias", channels);
    }

    /**
     * {@code [batch, height, width, channels]} to the same shape; or {@code x} of one item shared by every text of
     * {@code text}, to the text's batch (see {@link BasicTransformerBlock#forward}).
     */
    public Tensor forward(Tensor x, TextConditioning text) {
        int batch = x.dim(0);
        int tokens = x.dim(1) * x.dim(2);
        Tensor hidden;
        try (Tensor normed = norm.forward(x)) {
            hidden = backend.linear(normed.reshape(batch, tokens, x.dim(3)), projIn, projInBias);
        }
        try {
            for (BasicTransformerBlock block : blocks) {
                Tensor next = block.forward(hidden, text);
                hidden.close();
                hidden = next;
            }
            int[] shape = x.shape();
            shape[0] = hidden.dim(0);
            try (Tensor residual = hidden.dim(0) == batch ? x.reshape(batch, tokens, x.dim(3))
                    : backend.repeatBatch(x.reshape(batch, tokens, x.dim(3)), hidden.dim(0))) {
                return backend.linear(hidden, projOut, projOutBias, residual).reshapeOwned(shape);
            }
        } finally {
            hidden.close();
        }
    }

    @Override
    public void close() {
        norm.close();
        projIn.close();
        projInBias.close();
        blocks.forEach(BasicTransformerBlock::close);
        projOut.close();
        projOutBias.close();
    }
}
