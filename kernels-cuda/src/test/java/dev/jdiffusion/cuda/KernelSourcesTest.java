package dev.jdiffusion.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel sources as the backend will launch them. NVRTC itself needs the CUDA libraries, but where the CUDA
 * compiler {@code nvcc} is installed (no GPU needed) every file is compiled to PTX for Hopper ({@code sm_90}),
 * so a source that would not compile on the GPU machine fails here first.
 */
class KernelSourcesTest {
    private static final Pattern KERNEL = Pattern.compile("extern \"C\" __global__ void (?:__launch_bounds__\\(\\w+\\) )?(\\w+)\\(");

    @Test
    void everyFileDefinesExactlyTheKernelsTheBackendLaunches() {
        for (Map.Entry<String, List<String>> file : KernelSources.KERNELS.entrySet()) {
            List<String> defined = new ArrayList<>();
            Matcher m = KERNEL.matcher(KernelSources.source(file.getKey()));
            while (m.find()) {
                defined.add(m.group(1));
            }
            assertEquals(file.getValue().stream().sorted().toList(), defined.stream().sorted().toList(), file.getKey());
        }
    }

    @Test
    void everyFileCompilesForHopperWithNvcc(@TempDir Path dir) throws Exception {
        Optional<Path> nvcc = nvcc();
        Assumptions.assumeTrue(nvcc.isPresent(), "nvcc is not installed here (PATH, /usr/local/cuda*/bin)");
        for (String header : KernelSources.HEADERS) {
            Files.writeString(dir.resolve(header), KernelSources.source(header));
        }
        for (Map.Entry<String, List<String>> file : KernelSources.KERNELS.entrySet()) {
            Path source = dir.resolve(file.getKey());
            Files.writeString(source, KernelSources.source(file.getKey()));
            Path ptx = dir.resolve(file.getKey() + ".ptx");
            Process process = new ProcessBuilder(nvcc.get().toString(), "--ptx", "-arch=sm_90", "-Werror", "all-warnings",
                    "-o", ptx.toString(), source.toString()).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes());
            assertTrue(process.waitFor(120, TimeUnit.SECONDS), "nvcc took over two minutes on " + file.getKey());
            assertEquals(0, process.exitValue(), file.getKey() + ":\n" + output);
            String assembly = Files.readString(ptx);
            for (String kernel : file.getValue()) {
                assertTrue(assembly.contains(".entry " + kernel + "("), kernel + " is not an entry point of " + file.getKey());
            }
        }
    }

    private static Optional<Path> nvcc() throws IOException {
        List<Path> candidates = new ArrayList<>();
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            candidates.add(Path.of(dir, "nvcc"));
        }
        if (Files.isDirectory(Path.of("/usr/local"))) {
            try (Stream<Path> local = Files.list(Path.of("/usr/local"))) {
                local.filter(p -> p.getFileName().toString().startsWith("cuda")).sorted().forEach(p -> candidates.add(p.resolve("bin/nvcc")));
            }
        }
        return candidates.stream().filter(Files::isExecutable).findFirst();
    }
}
