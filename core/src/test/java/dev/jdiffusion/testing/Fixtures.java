package dev.jdiffusion.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The golden fixtures folder: {@code JDIFFUSION_FIXTURES}, else {@code -Djdiffusion.fixtures}, else the
 * {@code shared/fixtures} folder beside the repository. Golden tests call {@link #folder} and are
 * skipped, with one line saying why, when it does not exist (a fresh clone without the fixtures).
 */
public final class Fixtures {
    private Fixtures() {}

    public static Path root() {
        String configured = System.getenv("JDIFFUSION_FIXTURES");
        if (configured == null || configured.isBlank()) {
            configured = System.getProperty("jdiffusion.fixtures");
        }
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured).toAbsolutePath();
        }
        // Tests run inside a module folder; the fixtures sit beside the repository root.
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.exists(dir.resolve(".git")) || Files.exists(dir.resolve(".ci"))) {
                return dir.resolveSibling("shared").resolve("fixtures");
            }
        }
        return Path.of("..", "shared", "fixtures").toAbsolutePath();
    }

    /**
     * A model's weights file in a fixtures folder: {@code fileName} there, or the file its
     * {@code WEIGHTS.md} points to (fixtures store identical weights only once).
     */
    public static Path weightsIn(Path folder, String fileName) throws IOException {
        Path local = folder.resolve(fileName);
        if (Files.exists(local)) {
            return local;
        }
        Path note = folder.resolve("WEIGHTS.md");
        if (Files.exists(note)) {
            Matcher m = Pattern.compile("`([^`]+\\.safetensors)`").matcher(Files.readString(note));
            while (m.find()) {
                Path candidate = folder.resolve(m.group(1)).normalize();
                if (Files.exists(candidate)) {
                    return candidate;
                }
            }
        }
        throw new IOException("no " + fileName + " in " + folder + " and none named by a WEIGHTS.md there");
    }

    /** The sub-folders of fixture folder {@code name} that hold a {@code golden.safetensors}, or the folder itself. */
    public static List<Path> goldenCases(String name) throws IOException {
        Path folder = folder(name);
        if (Files.exists(folder.resolve("golden.safetensors"))) {
            return List.of(folder);
        }
        try (Stream<Path> children = Files.list(folder)) {
            List<Path> cases = children.filter(p -> Files.exists(p.resolve("golden.safetensors"))).sorted().toList();
            assumeTrue(!cases.isEmpty(), "no golden cases in " + folder);
            return cases;
        }
    }

    /** A sub-folder of the fixtures; skips the calling test when it is absent. */
    public static Path folder(String name) {
        Path folder = root().resolve(name);
        assumeTrue(Files.isDirectory(folder), "golden fixtures not found at " + folder
                + " (set JDIFFUSION_FIXTURES to the fixtures folder)");
        return folder;
    }
}
