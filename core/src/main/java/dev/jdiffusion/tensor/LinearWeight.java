package dev.jdiffusion.tensor;

/**
 * The weight of a matrix product, prepared for its backend: it computes {@code y = x W^T} for a stored
 * {@code W} of shape {@code [outFeatures, inFeatures]}, the layout of torch's {@code Linear} and of flattened
 * convolutions. The CPU backend keeps the stored tensor (the file's mapping) and packs it into the layout
 * its kernels want on first use.
 */
public interface LinearWeight extends AutoCloseable {
    int inFeatures();

    int outFeatures();

    /**
     * Frees what the backend made of the stored weight (the CPU's packed panels) until its next use, which
     * prepares it again from the weights file. A pipeline that runs its models one after the other calls it
     * between them, so that only the running model's weights are resident.
     */
    default void unload() {
    }

    /** Frees the prepared copy for good. */
    @Override
    void close();
}
