package dev.jdiffusion.models;

import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.WeightFiles;
import dev.jdiffusion.weights.WeightsException;
import dev.jdiffusion.weights.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BiFunction;
import java.util.stream.Stream;

/** How a model is built from the weights file of its folder, the same way for every model. */
public final class ModelFiles {
    private static final System.Logger LOG = System.getLogger(ModelFiles.class.getName());

    private ModelFiles() {}

    /**
     * The safetensors weights {@code <stem>...} of a model folder (the file, or the index of sharded
     * weights): those of {@code variant} ({@code "fp16"}, ...) when the folder has them, else the plain
     * ones, else those of the only variant present; see {@link WeightFiles}. A {@link WeightsException}
     * says what the folder holds when none fits.
     */
    public static Path weightsIn(Path folder, String stem, String variant) {
        List<String> names;
        try (Stream<Path> files = Files.list(folder)) {
            names = files.map(f -> f.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new WeightsException("cannot list the model folder " + folder + ": " + e, e);
        }
        List<String> chosen = WeightFiles.choose(names, stem, variant);
        return folder.resolve(WeightFiles.entryPoint(chosen).orElseThrow(() -> new WeightsException(folder
                + (chosen.isEmpty() ? " has no " + stem + " safetensors weights" : " has several " + stem
                + " weights files and no index: " + chosen)
                + " (it holds " + names + "; pickled .bin and .ckpt files are never loaded)")));
    }

    /**
     * Opens {@code file} and builds a model over it; the model then owns the source (the factory gets it
     * to close with the model). Tensors no layer read are reported once; the file's pages read while building
     * (configuration checks, small tensors) are released, the weights are read when first used. The backend
     * holds the weights of the products and convolutions as {@code weightsHeldAs} (null: as stored).
     */
    public static <M> M build(Path file, Backend backend, DType weightsHeldAs, String what,
            BiFunction<Weights, TensorSource, M> factory) {
        TensorSource source = Safetensors.open(file);
        try {
            Weights weights = Weights.of(source, backend, weightsHeldAs);
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
