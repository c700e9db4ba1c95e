package dev.jdiffusion.models;

import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.safetensors.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BiFunction;

/** How a model is built from the weights file of its folder, the same way for every model. */
public final class ModelFiles {
    private static final System.Logger LOG = System.getLogger(ModelFiles.class.getName());

    private ModelFiles() {}

    /** A folder's {@code <stem>.safetensors}, or its sharded {@code <stem>.safetensors.index.json}. */
    public static Path weightsIn(Path folder, String stem) {
        Path single = folder.resolve(stem + ".safetensors");
        Path index = folder.resolve(stem + ".safetensors.index.json");
        return Files.exists(single) || !Files.exists(index) ? single : index;
    }

    /**
     * Opens {@code file} and builds a model over it; the model then owns the source (the factory gets it
     * to close with the model). Tensors no layer read are reported once; the file's pages are released
     * once the layers hold their copies.
     */
    public static <M> M build(Path file, Backend backend, String what, BiFunction<Weights, TensorSource, M> factory) {
        TensorSource source = Safetensors.open(file);
        try {
            Weights weights = Weights.of(source, backend);
            M model = factory.apply(weights, source);
            if (!weights.unusedNames().isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "{0}: {1} tensors not used by the {2}: {3}", file,
                        weights.unusedNames().size(), what, weights.unusedNames());
            }
            source.releaseResidentPages();
            return model;
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }
}
