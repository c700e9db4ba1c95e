package dev.jdiffusion.weights.hub;

import dev.jdiffusion.weights.WeightFiles;
import dev.jdiffusion.weights.WeightsException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Which files of a diffusers Stable Diffusion repository inference needs: {@code model_index.json}, the
 * tokenizer, the scheduler config, and the config and safetensors weights of the text encoder, U-Net and VAE
 * (the requested variant when the repository has it). Safety checkers, feature extractors, Flax, ONNX and
 * pickled {@code .bin}/{@code .ckpt} weights are left on the hub.
 */
public final class PipelineFiles {
    /** A model folder and the stem of its weights files. */
    private record Model(String folder, String stem) {}

    private static final List<Model> MODELS = List.of(new Model("text_encoder", "model"),
            new Model("unet", "diffusion_pytorch_model"), new Model("vae", "diffusion_pytorch_model"));
    private static final Set<String> SETTINGS = Set.of("tokenizer", "scheduler");

    private PipelineFiles() {}

    /** The files to fetch, or a {@link WeightsException} saying why the repository cannot serve. */
    public static List<HubFile> select(String repo, List<HubFile> files, String variant) {
        if (files.stream().noneMatch(f -> f.path().equals("model_index.json"))) {
            List<String> topLevelWeights = files.stream().map(HubFile::path)
                    .filter(p -> !p.contains("/") && p.endsWith(".safetensors")).toList();
            throw new WeightsException(repo + " is not a diffusers pipeline (it has no model_index.json)"
                    + (topLevelWeights.isEmpty() ? "" : "; it holds single-file checkpoints " + topLevelWeights
                    + ", which load from a local path"));
        }
        List<HubFile> selected = new ArrayList<>();
        for (HubFile file : files) {
            boolean setting = SETTINGS.contains(file.folder())
                    && (file.path().endsWith(".json") || file.path().endsWith(".txt"));
            boolean config = MODELS.stream().anyMatch(m -> m.folder().equals(file.folder())) && file.fileName().equals("config.json");
            if (file.path().equals("model_index.json") || setting || config) {
                selected.add(file);
            }
        }
        for (Model model : MODELS) {
            List<HubFile> inFolder = files.stream().filter(f -> f.folder().equals(model.folder())).toList();
            List<String> chosen = WeightFiles.choose(inFolder.stream().map(HubFile::fileName).toList(), model.stem(), variant);
            if (chosen.isEmpty()) {
                throw new WeightsException(repo + ": " + model.folder() + "/ has no safetensors weights"
                        + (inFolder.isEmpty() ? "" : " (it holds " + inFolder.stream().map(HubFile::fileName).toList()
                        + "; pickled .bin and .ckpt files are never loaded)"));
            }
            inFolder.stream().filter(f -> chosen.contains(f.fileName())).forEach(selected::add);
        }
        return List.copyOf(selected);
    }
}
