package dev.jdiffusion.models.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jdiffusion.models.ConfigValues;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.testing.Fixtures;
import dev.jdiffusion.testing.TestDevice;
import dev.jdiffusion.testing.Golden;
import dev.jdiffusion.tokenizer.ClipTokenizer;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.WeightsException;
import dev.jdiffusion.weights.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every {@code clip_text*} folder of the fixtures: each prompt's last hidden state, pooled output,
 * every hidden state, the penultimate layer, and clip skip, against transformers' CLIPTextModel.
 */
class ClipTextModelGoldenTest {
    /** The fixtures' stated agreement for an fp32 implementation (README: about 1e-5 absolute). */
    private static final double TOLERANCE = 1e-5;

    private static Backend backend;

    @BeforeAll
    static void start() {
        backend = TestDevice.backend();
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    private static List<Path> caseFolders() throws IOException {
        Path root = Fixtures.root();
        assumeTrue(Files.isDirectory(root), "golden fixtures not found at " + root + " (set JDIFFUSION_FIXTURES)");
        try (Stream<Path> children = Files.list(root)) {
            List<Path> folders = children
                    .filter(p -> p.getFileName().toString().startsWith("clip_text"))
                    .filter(p -> Files.exists(p.resolve("golden.safetensors")))
                    .sorted().toList();
            assumeTrue(!folders.isEmpty(), "no clip_text* folders in " + root);
            return folders;
        }
    }

    @TestFactory
    Stream<DynamicNode> everyFolderEveryOutputMatches() throws IOException {
        return caseFolders().stream().map(folder -> DynamicContainer.dynamicContainer(folder.getFileName().toString(),
                Stream.of(DynamicTest.dynamicTest("all outputs", () -> checkFolder(folder)))));
    }

    private static void checkFolder(Path folder) throws IOException {
        ClipTextConfig config = ClipTextConfig.read(folder.resolve("config.json"));
        try (TensorSource weightsFile = Safetensors.open(Fixtures.weightsIn(folder, "model.safetensors"));
                TensorSource golden = Safetensors.open(folder.resolve("golden.safetensors"));
                ClipTextModel model = ClipTextModel.of(config, Weights.of(weightsFile, backend))) {
            long[] flat = golden.get("input_ids").toLongArray();
            int batch = (int) golden.get("input_ids").dim(0);
            int tokens = (int) golden.get("input_ids").dim(1);
            int[][] ids = new int[batch][tokens];
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < tokens; t++) {
                    ids[b][t] = (int) flat[b * tokens + t];
                }
            }
            try (ClipTextOutput out = model.forward(ids, true)) {
                Golden.assertClose(golden.get("last_hidden_state"), out.lastHiddenState(), TOLERANCE, "last_hidden_state");
                Golden.assertClose(golden.get("pooler_output"), out.pooledOutput(), TOLERANCE, "pooler_output");
                for (int i = 0; golden.contains("hidden_states_" + i); i++) {
                    Golden.assertClose(golden.get("hidden_states_" + i), out.hiddenStates().get(i), TOLERANCE,
                            "hidden_states_" + i);
                }
                assertEquals(config.numHiddenLayers() + 1, out.hiddenStates().size());
                Golden.assertClose(golden.get("hidden_states_penultimate"),
                        out.hiddenStates().get(config.numHiddenLayers() - 1), TOLERANCE, "hidden_states_penultimate");
            }
            try (Tensor skipped = model.encode(ids, 1); Tensor last = model.encode(ids, 0)) {
                Golden.assertClose(golden.get("penultimate_after_final_layer_norm"), skipped, TOLERANCE,
                        "penultimate_after_final_layer_norm (clip skip 1)");
                Golden.assertClose(golden.get("last_hidden_state"), last, TOLERANCE, "encode with clip skip 0");
            }
            checkPromptsTokenizeToTheGoldenIds(folder, ids);
        }
    }

    /** Where the folder records its prompts, the tokenizer must turn them into the ids the encoder saw. */
    private static void checkPromptsTokenizeToTheGoldenIds(Path folder, int[][] ids) {
        Path info = folder.resolve("golden_info.json");
        Path tokenizerFolder = Fixtures.root().resolve("tokenizer");
        if (!Files.exists(info) || !Files.exists(tokenizerFolder.resolve("vocab.json"))) {
            return;
        }
        ConfigValues values = ConfigValues.read(info);
        if (!values.has("prompts")) {
            return;
        }
        List<String> prompts = values.getStringList("prompts");
        ClipTokenizer tokenizer = ClipTokenizer.load(tokenizerFolder.resolve("vocab.json"), tokenizerFolder.resolve("merges.txt"));
        for (int b = 0; b < prompts.size(); b++) {
            assertArrayEquals(ids[b], tokenizer.encodeForModel(prompts.get(b)).ids(), "ids of \"" + prompts.get(b) + "\"");
        }
    }

    @Test
    void loadsATransformersFolderAndReportsAMismatchedConfig() throws IOException {
        Path textEncoder = Fixtures.folder("pipeline").resolve("text_encoder");
        try (ClipTextModel model = ClipTextModel.load(textEncoder, backend)) {
            assertEquals(64, model.config().hiddenSize());
        }
        ClipTextConfig wrong = new ClipTextConfig(49408, 128, 256, 3, 4, 77, dev.jdiffusion.tensor.Activation.GELU, 1e-5, 49407);
        try (TensorSource source = Safetensors.open(textEncoder.resolve("model.safetensors"))) {
            WeightsException e = assertThrows(WeightsException.class, () -> ClipTextModel.of(wrong, Weights.of(source, backend)));
            assertFalse(e.getMessage().isEmpty());
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("token_embedding")
                    && e.getMessage().contains("[49408, 64]") && e.getMessage().contains("[49408, 128]"), e.getMessage());
        }
    }

    @Test
    void badInputIdsAreRefusedBeforeAnyWork() throws IOException {
        Path textEncoder = Fixtures.folder("pipeline").resolve("text_encoder");
        try (ClipTextModel model = ClipTextModel.load(textEncoder, backend)) {
            assertThrows(IllegalArgumentException.class, () -> model.forward(new int[][] {{49406, 50000}}));
            assertThrows(IllegalArgumentException.class, () -> model.forward(new int[][] {new int[78]}));
            assertThrows(IllegalArgumentException.class, () -> model.forward(new int[][] {{1, 2}, {1}}));
            assertThrows(IllegalArgumentException.class, () -> model.encode(new int[][] {{1, 2}}, 3));
        }
    }
}
