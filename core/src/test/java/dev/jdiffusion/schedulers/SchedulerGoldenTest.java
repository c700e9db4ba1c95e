package dev.jdiffusion.schedulers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.models.ConfigValues;
import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.testing.Fixtures;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.json.Json;
import dev.jdiffusion.weights.safetensors.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every rollout of {@code fixtures/schedulers}: timesteps, sigmas, the initial noise scale, every scaled
 * input, every intermediate sample and predicted original, the noise each stochastic sampler draws
 * (through the rollout it shapes), img2img's trimmed timesteps and noising, and {@code add_noise}.
 */
class SchedulerGoldenTest {
    /** The README's agreement for fp32 rollouts: about 1e-5 relative to the tensor's magnitude. */
    private static final double RELATIVE = 1e-5;

    /** The fixture file stems and the samplers that reproduce them. */
    private static final Map<String, Samplers> SAMPLERS = Map.of(
            "DDIM", Samplers.DDIM, "PNDM", Samplers.PNDM, "EulerDiscrete", Samplers.EULER,
            "EulerAncestralDiscrete", Samplers.EULER_A, "DPMSolverMultistep_2M", Samplers.DPMPP_2M,
            "DPMSolverMultistep_2M_karras", Samplers.DPMPP_2M_KARRAS, "DDPM", Samplers.DDPM,
            "LMSDiscrete", Samplers.LMS, "HeunDiscrete", Samplers.HEUN, "UniPCMultistep", Samplers.UNIPC);

    @TestFactory
    Stream<DynamicNode> everyRolloutOfEveryScheduler() throws IOException {
        Path folder = Fixtures.folder("schedulers");
        List<DynamicNode> nodes = new ArrayList<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path json : files.filter(p -> p.toString().endsWith(".json") && !p.getFileName().toString().equals("index.json"))
                    .sorted().toList()) {
                String name = json.getFileName().toString().replace(".json", "");
                String stem = name.substring(0, name.indexOf('.'));
                nodes.add(DynamicContainer.dynamicContainer(name, runs(json, folder.resolve(name + ".safetensors"),
                        SAMPLERS.get(stem))));
            }
        }
        assertTrue(!nodes.isEmpty(), "no scheduler fixtures in " + folder);
        return nodes.stream();
    }

    @SuppressWarnings("unchecked")
    private static Stream<DynamicNode> runs(Path json, Path tensors, Samplers sampler) throws IOException {
        Map<String, Object> file = Json.parseObject(Files.readString(json));
        Map<String, Object> runs = (Map<String, Object>) file.get("runs");
        // img2img records no config of its own: it ran on the 20-step run's scheduler
        Object baseConfig = ((Map<String, Object>) runs.get("steps20")).get("scheduler_config");
        return runs.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> {
            Assumptions.assumeTrue(sampler != null, file.get("class") + " is not implemented yet");
            Map<String, Object> info = (Map<String, Object>) e.getValue();
            Map<String, Object> config = (Map<String, Object>) info.getOrDefault("scheduler_config", baseConfig);
            try (TensorSource golden = Safetensors.open(tensors)) {
                checkRun(e.getKey(), info, config, golden, sampler);
            }
        }));
    }

    @SuppressWarnings("unchecked")
    private static void checkRun(String run, Map<String, Object> info, Map<String, Object> schedulerConfig, TensorSource g,
            Samplers sampler) {
        SchedulerConfig config = SchedulerConfig.from(new ConfigValues(run, schedulerConfig));
        Scheduler s = sampler.create(config);
        boolean img2img = run.equals("img2img");
        int steps = img2img ? 20 : Integer.parseInt(run.substring(run.lastIndexOf("steps") + 5));
        s.setTimesteps(steps);
        float[] timesteps = s.timesteps();
        if (!img2img) {
            assertArrayEquals(floats((List<Object>) info.get("timesteps")), timesteps, run + ": timesteps");
            if (info.get("sigmas") instanceof List<?> sigmas) {
                assertClose(floats((List<Object>) sigmas), sigmasOf(s), run + ": sigmas");
            }
            float initNoiseSigma = ((Number) info.get("init_noise_sigma")).floatValue();
            assertEquals(initNoiseSigma, s.initNoiseSigma(), RELATIVE * initNoiseSigma, run + ": init_noise_sigma");
        }
        TorchGenerator generator = info.get("generator_seed") instanceof Number seed
                ? new TorchGenerator(seed.longValue()) : null;
        float[] f = g.get("F").toFloatArray();
        float[] x;
        int first = 0;
        if (img2img) {
            int initTimestep = Math.min((int) (steps * 0.5), steps);
            first = Math.max(steps - initTimestep, 0) * s.order();
            float[] trimmed = java.util.Arrays.copyOfRange(timesteps, first, timesteps.length);
            assertArrayEquals(g.get("img2img.timesteps").toFloatArray(), trimmed, "img2img: timesteps");
            x = s.addNoise(g.get("img2img_original").toFloatArray(), g.get("img2img_noise").toFloatArray(), trimmed[0]);
            assertClose(g.get("img2img.noised").toFloatArray(), x, "img2img: noised");
            checkAddNoise(sampler, config, g);
        } else {
            float[] base = g.get("base_noise").toFloatArray();
            x = new float[base.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = base[i] * s.initNoiseSigma();
            }
            assertClose(g.get(run + ".sample_0").toFloatArray(), x, run + ": sample_0");
        }
        for (int i = 0; first + i < timesteps.length; i++) {
            float t = timesteps[first + i];
            float[] input = s.scaleModelInput(x, t);
            if (g.contains(run + ".scaled_input." + i)) {
                assertClose(g.get(run + ".scaled_input." + i).toFloatArray(), input, run + ": scaled_input." + i);
            }
            float[] modelOutput = new float[input.length];
            for (int j = 0; j < input.length; j++) {
                modelOutput[j] = 0.1f * input[j] + f[j];
            }
            Scheduler.StepOutput out = s.step(modelOutput, t, x, generator);
            if (g.contains(run + ".pred_original_sample." + i)) {
                assertClose(g.get(run + ".pred_original_sample." + i).toFloatArray(), out.predOriginalSample(),
                        run + ": pred_original_sample." + i);
            }
            x = out.prevSample();
            if (g.contains(run + ".prev_sample." + i)) {
                assertClose(g.get(run + ".prev_sample." + i).toFloatArray(), x, run + ": prev_sample." + i);
            } else {
                fail(run + ": the reference has no prev_sample." + i + ": different number of steps");
            }
        }
        if (g.contains(run + ".final")) {
            assertClose(g.get(run + ".final").toFloatArray(), x, run + ": final");
        }
    }

    /** {@code add_noise.idx{j}}: a fresh 20-step schedule noised at its j-th step. */
    private static void checkAddNoise(Samplers sampler, SchedulerConfig config, TensorSource g) {
        Scheduler s = sampler.create(config);
        s.setTimesteps(20);
        float[] original = g.get("img2img_original").toFloatArray();
        float[] noise = g.get("img2img_noise").toFloatArray();
        for (int j : new int[] {0, 5, 10, 19}) {
            String key = "add_noise.idx" + j;
            if (!g.contains(key + ".noised")) {
                continue;
            }
            float t = s.timesteps()[j * s.order()];
            assertEquals(g.get(key + ".timestep").getFloat(0), t, key + ": timestep");
            assertClose(g.get(key + ".noised").toFloatArray(), s.addNoise(original, noise, t), key + ": noised");
        }
    }

    private static float[] sigmasOf(Scheduler s) {
        try {
            var field = s.getClass().getSuperclass().getDeclaredField("sigmas");
            field.setAccessible(true);
            return (float[]) field.get(s);
        } catch (ReflectiveOperationException notSigmaBased) {
            try {
                var field = s.getClass().getDeclaredField("sigmas");
                field.setAccessible(true);
                return (float[]) field.get(s);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(s.getClass().getSimpleName() + " has no sigmas to compare", e);
            }
        }
    }

    private static float[] floats(List<Object> values) {
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) values.get(i)).floatValue();
        }
        return out;
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = 1e-30;
        for (float v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        double tolerance = RELATIVE * Math.max(1, scale);
        for (int i = 0; i < expected.length; i++) {
            if (!(Math.abs(expected[i] - actual[i]) <= tolerance)) {
                fail(what + ": element " + i + " expected " + expected[i] + " but was " + actual[i] + " (tolerance " + tolerance + ")");
            }
        }
    }

    @Test
    void samplersAreFoundByTheNamesUsersKnowAndUnknownNamesListTheKnownOnes() {
        assertEquals(Samplers.EULER_A, Samplers.byName("Euler-A"));
        assertEquals(Samplers.DPMPP_2M_KARRAS, Samplers.byName("DPM++_2M_Karras"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Samplers.byName("warp_drive"));
        assertTrue(e.getMessage().contains("euler_a") && e.getMessage().contains("ddim"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Samplers.DDIM.create(SchedulerConfig.sd15()).setTimesteps(0));
    }
}
