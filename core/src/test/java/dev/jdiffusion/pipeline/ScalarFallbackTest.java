package dev.jdiffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.testing.Fixtures;
import dev.jdiffusion.testing.Golden;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A host application that did not add {@code --add-modules jdk.incubator.vector}: the library warns once,
 * runs its scalar kernels, and makes the same picture (within the pipeline tolerance) instead of failing.
 */
class ScalarFallbackTest {
    /** The pipeline fixture's agreement for images before quantisation. */
    private static final double IMAGE_TOLERANCE = 1e-4;

    @TempDir
    Path dir;

    @Test
    void withoutTheVectorModuleThePictureIsMadeByTheScalarKernels() throws Exception {
        Path folder = Fixtures.folder("pipeline");
        float[] expected = SmallPicture.fromFolder(folder);
        Path image = dir.resolve("image.bin");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(List.of(java.toString(), "-cp", System.getProperty("java.class.path"),
                Child.class.getName(), folder.toString(), image.toString()))
                .redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes());
        assertTrue(child.waitFor(5, TimeUnit.MINUTES), "the child JVM finished");
        assertEquals(0, child.exitValue(), output);
        assertEquals(1, output.split("--add-modules jdk.incubator.vector", -1).length - 1,
                "one warning that names the fix: " + output);
        Golden.assertClose(expected, read(image), IMAGE_TOLERANCE, "image without the Vector API");
    }

    private static float[] read(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
            float[] values = new float[in.readInt()];
            for (int i = 0; i < values.length; i++) {
                values[i] = in.readFloat();
            }
            return values;
        }
    }

    /** Runs in a JVM started without the Vector API module. */
    public static final class Child {
        public static void main(String[] args) throws IOException {
            if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
                throw new IllegalStateException("the child JVM must not have the Vector API module");
            }
            float[] rgb = SmallPicture.fromFolder(Path.of(args[0]));
            try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(Path.of(args[1])))) {
                out.writeInt(rgb.length);
                for (float v : rgb) {
                    out.writeFloat(v);
                }
            }
        }
    }
}
