package dev.jdiffusion.models.synthetic;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tensors of a model, by name, with the shape and the kind of initial values each gets: an ordered
 * list the synthetic-weights writer walks.
 */
final class TensorPlan {

    /** How a tensor is filled. */
    enum Init {
        /** A matrix or convolution: uniform with variance 1 / fan-in, so activations keep their scale. */
        WEIGHT,
        /** An embedding table: uniform with standard deviation 0.02. */
        EMBEDDING,
        /** Biases: uniform with standard deviation 0.01. */
        BIAS,
        /** Norm scales: ones. */
        ONES,
        /** Norm shifts: zeros. */
        ZEROS
    }

    record Entry(long[] shape, Init init) {}

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    void add(String name, Init init, long... shape) {
        if (entries.put(name, new Entry(shape.clone(), init)) != null) {
            throw new IllegalStateException("tensor " + name + " planned twice");
        }
    }

    /** {@code weight [out, in]} and {@code bias [out]} of a linear layer. */
    void linear(String prefix, long in, long out, boolean bias) {
        add(prefix + ".weight", Init.WEIGHT, out, in);
        if (bias) {
            add(prefix + ".bias", Init.BIAS, out);
        }
    }

    /** {@code weight [out, in, k, k]} and {@code bias [out]} of a convolution. */
    void conv(String prefix, long in, long out, long kernel) {
        add(prefix + ".weight", Init.WEIGHT, out, in, kernel, kernel);
        add(prefix + ".bias", Init.BIAS, out);
    }

    /** {@code weight} (ones) and {@code bias} (zeros) of a layer or group norm. */
    void norm(String prefix, long channels) {
        add(prefix + ".weight", Init.ONES, channels);
        add(prefix + ".bias", Init.ZEROS, channels);
    }

    Map<String, Entry> entries() {
        return entries;
    }

    long parameterCount() {
        return entries.values().stream().mapToLong(e -> Arrays.stream(e.shape).reduce(1, (a, b) -> a * b)).sum();
    }
}
