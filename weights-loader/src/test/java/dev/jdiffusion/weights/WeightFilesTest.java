package dev.jdiffusion.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class WeightFilesTest {
    private static final String STEM = "diffusion_pytorch_model";

    @Test
    void readsTheVariantOutOfDiffusersAndTransformersNames() {
        assertEquals(Optional.empty(), variant("diffusion_pytorch_model.safetensors"));
        assertEquals(Optional.empty(), variant("model-00001-of-00002.safetensors"));
        assertEquals(Optional.empty(), variant("model.safetensors.index.json"));
        assertEquals(Optional.of("fp16"), variant("diffusion_pytorch_model.fp16.safetensors"));
        assertEquals(Optional.of("fp16"), variant("model.fp16-00001-of-00002.safetensors"));
        assertEquals(Optional.of("fp16"), variant("diffusion_pytorch_model-00001-of-00002.fp16.safetensors"));
        assertEquals(Optional.of("fp16"), variant("model.safetensors.index.fp16.json"));
        assertEquals(Optional.of("non_ema"), variant("diffusion_pytorch_model.non_ema.safetensors"));
        assertTrue(WeightFiles.parse("model.safetensors.index.fp16.json").orElseThrow().index());
        assertEquals(Optional.empty(), WeightFiles.parse("pytorch_model.bin"));
        assertEquals(Optional.empty(), WeightFiles.parse("config.json"));
        assertEquals(Optional.empty(), WeightFiles.parse("diffusion_flax_model.msgpack"));
    }

    @Test
    void choosesTheRequestedVariantElseThePlainWeightsElseTheOnlyVariant() {
        List<String> folder = List.of("config.json", "diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors",
                "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.non_ema.safetensors");
        assertEquals(List.of("diffusion_pytorch_model.fp16.safetensors"), WeightFiles.choose(folder, STEM, "fp16"));
        assertEquals(List.of("diffusion_pytorch_model.safetensors"), WeightFiles.choose(folder, STEM, null));
        assertEquals(List.of("diffusion_pytorch_model.safetensors"), WeightFiles.choose(folder, STEM, "bf16"));
        assertEquals(List.of("model.fp16.safetensors"), WeightFiles.choose(List.of("model.fp16.safetensors"), "model", null));
        assertEquals(List.of(), WeightFiles.choose(List.of("a.fp16.safetensors", "a.bf16.safetensors"), "a", null));
        assertEquals(List.of(), WeightFiles.choose(List.of("pytorch_model.bin"), "pytorch_model", "fp16"));
    }

    @Test
    void otherSafetensorsInTheFolderAreNotTheModelsWeights() {
        assertEquals(List.of("diffusion_pytorch_model.safetensors"), WeightFiles.choose(List.of("golden.safetensors",
                "diffusion_pytorch_model.safetensors", "model.safetensors"), STEM, null));
        assertEquals("model", WeightFiles.parse("model-00001-of-00002.safetensors").orElseThrow().stem());
    }

    @Test
    void opensTheIndexOfShardedWeights() {
        List<String> sharded = WeightFiles.choose(List.of("model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors", "model.safetensors.index.json", "model.fp16.safetensors"), "model", null);
        assertEquals(3, sharded.size());
        assertEquals(Optional.of("model.safetensors.index.json"), WeightFiles.entryPoint(sharded));
        assertEquals(Optional.of("model.safetensors"), WeightFiles.entryPoint(List.of("model.safetensors")));
        assertEquals(Optional.empty(), WeightFiles.entryPoint(List.of("a.safetensors", "b.safetensors")));
    }

    private static Optional<String> variant(String name) {
        return WeightFiles.parse(name).orElseThrow().variant();
    }
}
