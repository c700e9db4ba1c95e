package dev.jdiffusion.weights.checkpoint;

import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A view of tensors under other names (and, where a layout stores the same numbers in another shape,
 * another shape of equal size); the bytes are those of the underlying file. Closing the view does not
 * close the file: its owner does.
 */
final class RenamedTensorSource implements TensorSource {
    private final String description;
    private final Map<String, RawTensor> tensors;

    private RenamedTensorSource(String description, Map<String, RawTensor> tensors) {
        this.description = description;
        this.tensors = tensors;
    }

    /** Collects renamed tensors. */
    static final class Builder {
        private final String description;
        private final Map<String, RawTensor> tensors = new LinkedHashMap<>();

        Builder(String description) {
            this.description = description;
        }

        void put(String name, RawTensor original, long[] shape) {
            RawTensor renamed = new RawTensor(name, original.dtype(), shape, original.data());
            if (tensors.put(name, renamed) != null) {
                throw new IllegalStateException(description + ": two tensors map to " + name);
            }
        }

        boolean isEmpty() {
            return tensors.isEmpty();
        }

        RenamedTensorSource build() {
            return new RenamedTensorSource(description, Collections.unmodifiableMap(tensors));
        }
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public Optional<RawTensor> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public void close() {
        // the file belongs to the checkpoint this view came from
    }
}
