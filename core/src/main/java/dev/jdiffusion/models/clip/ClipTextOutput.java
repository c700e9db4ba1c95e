package dev.jdiffusion.models.clip;

import dev.jdiffusion.tensor.Tensor;
import java.util.List;

/**
 * What the text encoder computed for a batch; close it to free the tensors.
 *
 * @param lastHiddenState {@code [batch, tokens, hidden]} after the final layer norm: SD's conditioning
 * @param pooledOutput {@code [batch, hidden]}: {@code lastHiddenState} at each sequence's EOS
 * @param hiddenStates when asked for: the embeddings, then each layer's output (before the final
 *     layer norm), {@code layers + 1} tensors; empty otherwise
 */
public record ClipTextOutput(Tensor lastHiddenState, Tensor pooledOutput, List<Tensor> hiddenStates)
        implements AutoCloseable {

    @Override
    public void close() {
        lastHiddenState.close();
        pooledOutput.close();
        hiddenStates.forEach(Tensor::close);
    }
}
