package dev.jdiffusion.models.vae;

import dev.jdiffusion.tensor.Tensor;

/** The VAE's encoder and decoder pass one state from layer to layer, closing each as the next is made. */
final class States {
    private States() {}

    /** Closes the old state and returns the new one. */
    static Tensor replace(Tensor old, Tensor next) {
        old.close();
        return next;
    }
}
