package dev.jdiffusion.models.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.nn.TextConditioning;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.profile.ProfilingBackend;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.testing.Fixtures;
import dev.jdiffusion.testing.TestDevice;
import dev.jdiffusion.testing.Golden;
import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.WeightsException;
import dev.jdiffusion.weights.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every model and case of {@code fixtures/unet} against diffusers' UNet2DConditionModel. */
class UNetGoldenTest {
    /** The fixtures' stated agreement for an fp32 implementation (about 1e-5 absolute). */
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

    @TestFactory
    Stream<DynamicNode> everyModelEveryCase() throws IOException {
        return Fixtures.goldenCases("unet").stream().map(folder -> DynamicContainer.dynamicContainer(
                folder.getFileName().toString(), cases(folder).stream().map(c -> DynamicTest.dynamicTest("case " + c,
                        () -> check(folder, c)))));
    }

    /** The case names of a golden file: the prefixes of its {@code <case>.out} keys. */
    private static Set<String> cases(Path folder) {
        try (TensorSource golden = Safetensors.open(folder.resolve("golden.safetensors"))) {
            Set<String> cases = new LinkedHashSet<>();
            for (String name : golden.names()) {
                if (name.endsWith(".out")) {
                    cases.add(name.substring(0, name.length() - ".out".length()));
                }
            }
            return cases;
        }
    }

    private static void check(Path folder, String c) throws IOException {
        UNet2DConditionConfig config = UNet2DConditionConfig.read(folder.resolve("config.json"));
        try (TensorSource weights = Safetensors.open(Fixtures.weightsIn(folder, "diffusion_pytorch_model.safetensors"));
                TensorSource golden = Safetensors.open(folder.resolve("golden.safetensors"));
                UNet2DConditionModel unet = UNet2DConditionModel.of(config, Weights.of(weights, backend));
                Tensor sample = backend.fromRaw(golden.get(c + ".sample"));
                Tensor context = backend.fromRaw(golden.get(c + ".encoder_hidden_states"))) {
            RawTensor t = golden.get(c + ".timestep");
            float[] timesteps = new float[(int) t.elementCount()];
            for (int i = 0; i < timesteps.length; i++) {
                timesteps[i] = t.getFloat(i);
            }
            Map<String, float[]> activations = new HashMap<>();
            try (Tensor out = unet.forward(sample, timesteps, context, (name, x) -> activations.put(name, channelsFirst(x)))) {
                Golden.assertClose(golden.get(c + ".out"), out, TOLERANCE, folder.getFileName() + " " + c + ".out");
            }
            for (String name : golden.names()) {
                String prefix = c + ".act.";
                if (!name.startsWith(prefix)) {
                    continue;
                }
                String layer = name.substring(prefix.length());
                float[] expected = golden.get(name).toFloatArray();
                float[] actual = layer.equals("t_emb_sinusoidal") ? unetSinusoids(config, weights, timesteps)
                        : activations.get(layer);
                assertTrue(actual != null, "no activation '" + layer + "' was observed");
                Golden.assertClose(expected, actual, TOLERANCE, folder.getFileName() + " " + name);
            }
        }
    }

    private static float[] unetSinusoids(UNet2DConditionConfig config, TensorSource weights, float[] timesteps) {
        try (var embedding = new dev.jdiffusion.nn.TimestepEmbedding(Weights.of(weights, backend).at("time_embedding"),
                config.blockOutChannels()[0], config.timeEmbeddingDim(), config.flipSinToCos(), config.freqShift(),
                dev.jdiffusion.tensor.Activation.SILU)) {
            return embedding.sinusoids(timesteps);
        }
    }

    /** A channels-last activation in the reference's channels-first order. */
    private static float[] channelsFirst(Tensor x) {
        if (x.rank() != 4) {
            return x.toFloatArray();
        }
        try (Tensor t = backend.transpose(x.reshape(x.dim(0), x.dim(1) * x.dim(2), x.dim(3)))) {
            return t.toFloatArray();
        }
    }

    @Test
    void aBatchOfTwoGivesTheRowsOfTwoBatchesOfOne() throws IOException {
        Path folder = Fixtures.goldenCases("unet").get(0);
        UNet2DConditionConfig config = UNet2DConditionConfig.read(folder.resolve("config.json"));
        try (TensorSource weights = Safetensors.open(Fixtures.weightsIn(folder, "diffusion_pytorch_model.safetensors"));
                TensorSource golden = Safetensors.open(folder.resolve("golden.safetensors"));
                UNet2DConditionModel unet = UNet2DConditionModel.of(config, Weights.of(weights, backend))) {
            float[] sample = golden.get("a.sample").toFloatArray();
            float[] context = golden.get("a.encoder_hidden_states").toFloatArray();
            int half = sample.length / 2;
            int contextHalf = context.length / 2;
            float[] both;
            try (Tensor s = backend.fromFloats(sample, 2, 4, 16, 16); Tensor e = backend.fromFloats(context, 2, 77, 64);
                    Tensor out = unet.forward(s, new float[] {999, 500}, e)) {
                both = out.toFloatArray();
            }
            for (int item = 0; item < 2; item++) {
                try (Tensor s = backend.fromFloats(java.util.Arrays.copyOfRange(sample, item * half, (item + 1) * half), 1, 4, 16, 16);
                        Tensor e = backend.fromFloats(java.util.Arrays.copyOfRange(context, item * contextHalf,
                                (item + 1) * contextHalf), 1, 77, 64);
                        Tensor out = unet.forward(s, new float[] {item == 0 ? 999 : 500}, e)) {
                    float[] single = out.toFloatArray();
                    assertArrayEquals(java.util.Arrays.copyOfRange(both, item * half, (item + 1) * half), single,
                            TestDevice.batchInvarianceTolerance(), "batch item " + item);
                }
            }
        }
    }

    @Test
    void aSampleSharedByBothTextsGivesTheResultsOfTheSampleRepeated() throws IOException {
        for (Path folder : Fixtures.goldenCases("unet")) {
            UNet2DConditionConfig config = UNet2DConditionConfig.read(folder.resolve("config.json"));
            try (TensorSource weights = Safetensors.open(Fixtures.weightsIn(folder, "diffusion_pytorch_model.safetensors"));
                    TensorSource golden = Safetensors.open(folder.resolve("golden.safetensors"));
                    UNet2DConditionModel unet = UNet2DConditionModel.of(config, Weights.of(weights, backend));
                    Tensor context = backend.fromRaw(golden.get("b.encoder_hidden_states"))) {
                float[] sample = golden.get("b.sample").toFloatArray();
                float[] one = java.util.Arrays.copyOf(sample, sample.length / 2);
                float[] repeated = new float[sample.length];
                System.arraycopy(one, 0, repeated, 0, one.length);
                System.arraycopy(one, 0, repeated, one.length, one.length);
                for (float[] timesteps : new float[][] {{421.5f}, {421.5f, 421.5f}, {999, 500}}) {
                    try (Tensor shared = backend.fromFloats(one, 1, 4, 16, 16);
                            Tensor both = backend.fromFloats(repeated, 2, 4, 16, 16);
                            Tensor fromShared = unet.forward(shared, timesteps, context);
                            Tensor fromBoth = unet.forward(both, timesteps, context)) {
                        assertArrayEquals(new int[] {2, 4, 16, 16}, fromShared.shape());
                        assertArrayEquals(fromBoth.toFloatArray(), fromShared.toFloatArray(),
                                TestDevice.batchInvarianceTolerance(),
                                folder.getFileName() + ", timesteps " + java.util.Arrays.toString(timesteps));
                    }
                }
                try (Tensor three = backend.fromFloats(new float[3 * 4 * 16 * 16], 3, 4, 16, 16)) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> unet.forward(three, new float[] {1}, context));
                    assertTrue(e.getMessage().contains("text conditioning"), e.getMessage());
                }
            }
        }
    }

    @Test
    void aTextConditioningProjectsTheTextOnceForEveryStepAndGivesTheSameNoise() throws IOException {
        for (Path folder : Fixtures.goldenCases("unet")) {
            UNet2DConditionConfig config = UNet2DConditionConfig.read(folder.resolve("config.json"));
            try (TensorSource weights = Safetensors.open(Fixtures.weightsIn(folder, "diffusion_pytorch_model.safetensors"));
                    TensorSource golden = Safetensors.open(folder.resolve("golden.safetensors"));
                    ProfilingBackend counted = new ProfilingBackend(TestDevice.backend());
                    UNet2DConditionModel unet = UNet2DConditionModel.of(config, Weights.of(weights, counted));
                    Tensor context = counted.fromRaw(golden.get("b.encoder_hidden_states"));
                    Tensor latent = counted.fromFloats(java.util.Arrays.copyOf(golden.get("b.sample").toFloatArray(),
                            4 * 16 * 16), 1, 4, 16, 16)) {
                float[] timestep = {421.5f};
                float[] eachPassProjecting;
                counted.reset();
                try (Tensor out = unet.forward(latent, timestep, context)) {
                    eachPassProjecting = out.toFloatArray();
                }
                double passWork = counted.totalFlops();
                double textWork = textProjectionFlops(config, context.dim(0) * context.dim(1));
                TextConditioning text = new TextConditioning(context);
                try (text) {
                    for (int step = 0; step < 3; step++) {
                        counted.reset();
                        try (Tensor out = unet.forward(latent, timestep, text)) {
                            // the same products of the same inputs, only fewer of them
                            assertArrayEquals(eachPassProjecting, out.toFloatArray(), 0, folder.getFileName() + " step " + step);
                        }
                        double expected = step == 0 ? passWork : passWork - textWork;
                        assertEquals(expected, counted.totalFlops(), 1e-9 * passWork, folder.getFileName() + " step " + step);
                    }
                }
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> unet.forward(latent, timestep, text));
                assertTrue(e.getMessage().contains("closed"), e.getMessage());
            }
        }
    }

    /** The work of every cross-attention's {@code to_k} and {@code to_v} on {@code rows} rows of text. */
    private static double textProjectionFlops(UNet2DConditionConfig config, int rows) {
        int[] channels = config.blockOutChannels();
        int levels = config.levels();
        long widths = channels[levels - 1]; // the mid block's
        for (int level = 0; level < levels; level++) {
            if (config.downBlockTypes().get(level).equals(UNet2DConditionConfig.CROSS_ATTN_DOWN)) {
                widths += (long) config.layersPerBlock() * channels[level];
            }
            if (config.upBlockTypes().get(level).equals(UNet2DConditionConfig.CROSS_ATTN_UP)) {
                widths += (long) (config.layersPerBlock() + 1) * channels[levels - 1 - level];
            }
        }
        return 2.0 * 2.0 * config.transformerLayersPerBlock() * rows * config.crossAttentionDim() * widths;
    }

    @Test
    void loadingNamesAMismatchedTensorAndBadInputsAreRefused() throws IOException {
        Path folder = Fixtures.goldenCases("unet").get(0);
        UNet2DConditionConfig config = UNet2DConditionConfig.read(folder.resolve("config.json"));
        UNet2DConditionConfig wider = new UNet2DConditionConfig(4, 4, new int[] {32, 64, 128}, config.downBlockTypes(),
                config.upBlockTypes(), 2, config.attentionHeads(), 1, 64, 8, 1e-5, false, true, 0, 16);
        try (TensorSource weights = Safetensors.open(Fixtures.weightsIn(folder, "diffusion_pytorch_model.safetensors"))) {
            WeightsException e = assertThrows(WeightsException.class, () -> UNet2DConditionModel.of(wider, Weights.of(weights, backend)));
            assertTrue(e.getMessage().contains("down_blocks.2") && e.getMessage().contains("expects"), e.getMessage());
            try (UNet2DConditionModel unet = UNet2DConditionModel.of(config, Weights.of(weights, backend));
                    Tensor sample = backend.fromFloats(new float[2 * 3 * 8 * 8], 2, 3, 8, 8);
                    Tensor context = backend.fromFloats(new float[2 * 77 * 64], 2, 77, 64)) {
                assertThrows(IllegalArgumentException.class, () -> unet.forward(sample, new float[] {1}, context));
            }
        }
        assertEquals(3, config.levels());
    }
}
