package dev.jdiffusion.weights;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The safetensors weights of one model folder in diffusers' naming, where a variant ({@code fp16},
 * {@code non_ema}, ...) is a dot-separated word in the name: {@code diffusion_pytorch_model.safetensors},
 * {@code diffusion_pytorch_model.fp16.safetensors}, sharded {@code model-00001-of-00002.safetensors} with
 * {@code model.safetensors.index.json} (and {@code model.safetensors.index.fp16.json} or
 * {@code model.fp16-00001-of-00002.safetensors} for a variant). Pickled {@code .bin} and {@code .ckpt} files
 * are not weights here: they are never loaded.
 */
public final class WeightFiles {
    private static final Pattern SHARD_SUFFIX = Pattern.compile("-\\d+-of-\\d+$");
    private static final Set<String> FORMAT_WORDS = Set.of("safetensors", "index", "json");

    private WeightFiles() {}

    /**
     * A weights file name taken apart: its stem ({@code model}, {@code diffusion_pytorch_model}), whether it
     * is an index, and its variant (absent for the plain weights).
     */
    public record Name(String fileName, String stem, boolean index, Optional<String> variant) {}

    /** The parts of a weights file name; empty for a file that is not safetensors weights. */
    public static Optional<Name> parse(String fileName) {
        List<String> words = List.of(fileName.split("\\."));
        boolean index = fileName.endsWith(".json") && words.contains("safetensors") && words.contains("index");
        if (!index && !fileName.endsWith(".safetensors") || words.size() < 2) {
            return Optional.empty();
        }
        List<String> variantWords = new ArrayList<>();
        for (String word : words.subList(1, words.size())) {
            String bare = SHARD_SUFFIX.matcher(word).replaceFirst("");
            if (!FORMAT_WORDS.contains(bare)) {
                variantWords.add(bare);
            }
        }
        Optional<String> variant = variantWords.isEmpty() ? Optional.empty() : Optional.of(String.join(".", variantWords));
        String stem = SHARD_SUFFIX.matcher(words.getFirst()).replaceFirst("");
        return Optional.of(new Name(fileName, stem, index, variant));
    }

    /**
     * Of the file names in one folder, the weights named {@code stem} to use: those of
     * {@code preferredVariant} when present (null for none), else the plain ones, else those of the only
     * variant there is. Empty when there are none.
     */
    public static List<String> choose(List<String> fileNames, String stem, String preferredVariant) {
        List<Name> weights = fileNames.stream().map(WeightFiles::parse).flatMap(Optional::stream)
                .filter(n -> n.stem().equals(stem)).toList();
        TreeSet<String> variants = new TreeSet<>();
        weights.forEach(n -> n.variant().ifPresent(variants::add));
        Optional<String> chosen;
        if (preferredVariant != null && variants.contains(preferredVariant)) {
            chosen = Optional.of(preferredVariant);
        } else if (weights.stream().anyMatch(n -> n.variant().isEmpty())) {
            chosen = Optional.empty();
        } else if (variants.size() == 1) {
            chosen = Optional.of(variants.first());
        } else {
            return List.of();
        }
        return weights.stream().filter(n -> n.variant().equals(chosen)).map(Name::fileName).sorted().toList();
    }

    /** Of the chosen weights of a folder, the one to open: the index of a sharded set, else the single file. */
    public static Optional<String> entryPoint(List<String> chosen) {
        for (String name : chosen) {
            if (parse(name).map(Name::index).orElse(false)) {
                return Optional.of(name);
            }
        }
        return chosen.size() == 1 ? Optional.of(chosen.getFirst()) : Optional.empty();
    }
}
