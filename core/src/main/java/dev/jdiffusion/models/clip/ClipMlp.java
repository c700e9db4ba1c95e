package dev.jdiffusion.models.clip;

import dev.jdiffusion.nn.Linear;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/** CLIP's feed-forward block ({@code mlp}): {@code fc2(act(fc1(x)))}. */
final class ClipMlp implements AutoCloseable {
    private final Backend backend;
    private final Linear fc1;
    private final Linear fc2;
    private final Activation activation;

    ClipMlp(Weights w, ClipTextConfig config) {
        this.backend = w.backend();
        this.fc1 = new Linear(w.at("fc1"), config.hiddenSize(), config.intermediateSize(), true);
        this.fc2 = new Linear(w.at("fc2"), config.intermediateSize(), config.hiddenSize(), true);
        this.activation = config.hiddenAct();
    }

    Tensor forward(Tensor x) {
        try (Tensor hidden = fc1.forward(x); Tensor activated = backend.activation(hidden, activation)) {
            return fc2.forward(activated);
        }
    }

    @Override
    public void close() {
        fc1.close();
        fc2.close();
    }
}
