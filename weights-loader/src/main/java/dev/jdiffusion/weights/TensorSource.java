package dev.jdiffusion.weights;

import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Named tensors read from one or more files. The tensors' bytes stay valid until {@link #close()}.
 * Implementations are safe to read from many threads at once.
 */
public interface TensorSource extends AutoCloseable {

    /** The tensor names, in file order. */
    Set<String> names();

    /** The named tensor, or empty when there is none by that name. */
    Optional<RawTensor> find(String name);

    /** The named tensor; a {@link MissingTensorException} naming this source when absent. */
    default RawTensor get(String name) {
        return find(name).orElseThrow(() -> new MissingTensorException(name, description()));
    }

    default boolean contains(String name) {
        return find(name).isPresent();
    }

    /** Free-form string metadata stored beside the tensors (safetensors' {@code __metadata__}). */
    Map<String, String> metadata();

    /** Where the tensors come from, for messages (a file path, or an index and its shards). */
    String description();

    /**
     * Lets the operating system drop the file pages this source has brought into memory (they are read
     * again from the file if touched). A model calls it once its layers have made their own copies, so
     * that the weights are not resident twice.
     */
    default void releaseResidentPages() {
    }

    /** Unmaps the files; tensors obtained from this source must not be used afterwards. */
    @Override
    void close();
}
