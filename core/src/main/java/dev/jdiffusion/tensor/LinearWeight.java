package dev.jdiffusion.tensor;

/**
 * The weight of a matrix product, prepared once at load in the layout its backend's kernels want
 * (packed panels on the CPU). It computes {@code y = x W^T} for a stored {@code W} of shape
 * {@code [outFeatures, inFeatures]}, the layout of torch's {@code Linear} and of flattened convolutions.
 */
public interface LinearWeight extends AutoCloseable {
    int inFeatures();

    int outFeatures();

    /** Frees the prepared copy. */
    @Override
    void close();
}
