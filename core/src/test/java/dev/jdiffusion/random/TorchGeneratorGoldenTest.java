package dev.jdiffusion.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.testing.Fixtures;
import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.safetensors.Safetensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every draw of {@code fixtures/rng}, bit for bit against torch's CPU generator. */
class TorchGeneratorGoldenTest {

    private static Path file() {
        return Fixtures.folder("rng").resolve("rng.safetensors");
    }

    @TestFactory
    Stream<DynamicTest> everyDrawMatchesBitForBit() {
        List<DynamicTest> tests = new ArrayList<>();
        try (TensorSource golden = Safetensors.open(file())) {
            Map<String, List<String>> consecutive = new TreeMap<>();
            for (String name : golden.names()) {
                String[] parts = name.split("\\.");
                RawTensor expected = golden.get(name);
                if (name.startsWith("consecutive.")) {
                    consecutive.computeIfAbsent(parts[1], k -> new ArrayList<>()).add(name);
                    continue;
                }
                if (name.equals("randn_f64")) {
                    double[] want = expected.toDoubleArray();
                    tests.add(DynamicTest.dynamicTest(name, () ->
                            assertArrayEquals(want, new TorchGenerator(42).randnDouble(want.length), name)));
                    continue;
                }
                long seed = Long.parseLong(parts[1].substring("seed".length()));
                float[] want = expected.toFloatArray();
                boolean normal = parts[0].equals("randn");
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    TorchGenerator g = new TorchGenerator(seed);
                    assertArrayEquals(want, normal ? g.randn(want.length) : g.rand(want.length), name);
                }));
            }
            for (Map.Entry<String, List<String>> e : consecutive.entrySet()) {
                long seed = Long.parseLong(e.getKey().substring("seed".length()));
                List<float[]> draws = new ArrayList<>();
                for (String name : e.getValue().stream().sorted().toList()) {
                    draws.add(golden.get(name).toFloatArray());
                }
                tests.add(DynamicTest.dynamicTest("consecutive " + e.getKey(), () -> {
                    TorchGenerator g = new TorchGenerator(seed);
                    for (int i = 0; i < draws.size(); i++) {
                        assertArrayEquals(draws.get(i), g.randn(draws.get(i).length), "draw " + (char) ('a' + i));
                    }
                }));
            }
        }
        assertTrue(tests.size() > 20, "found the draws");
        return tests.stream();
    }

    @Test
    void onlyTheLow32BitsOfTheSeedMatter() {
        assertArrayEquals(new TorchGenerator(0xFFFFFFFFL).randn(32), new TorchGenerator(Long.MAX_VALUE).randn(32));
        assertEquals(42, new TorchGenerator(42).initialSeed());
    }
}
