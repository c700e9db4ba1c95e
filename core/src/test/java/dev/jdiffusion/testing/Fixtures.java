package dev.jdiffusion.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

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

    /** A sub-folder of the fixtures; skips the calling test when it is absent. */
    public static Path folder(String name) {
        Path folder = root().resolve(name);
        assumeTrue(Files.isDirectory(folder), "golden fixtures not found at " + folder
                + " (set JDIFFUSION_FIXTURES to the fixtures folder)");
        return folder;
    }
}
