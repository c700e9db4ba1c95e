package dev.jdiffusion.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PNG files as a user keeps them: written with their parameters, overwritten, and refused with a reason. */
class PngTest {
    @TempDir
    Path dir;

    private static Image gradient(int width, int height) {
        byte[] rgb = new byte[width * height * 3];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) (i * 7);
        }
        return Image.fromBytes(width, height, rgb);
    }

    @Test
    void aWrittenPictureReadsBackWithItsText() {
        Path file = dir.resolve("sub/folder/picture.png");
        Image image = gradient(24, 16);
        Png.write(image, file, Map.of("parameters", "a cat\nSteps: 2"));
        assertArrayEquals(image.rgb(), Png.read(file).rgb());
        assertEquals("a cat\nSteps: 2", Png.readText(file).get("parameters"));
    }

    @Test
    void overwritingALargerFileLeavesNoTail() throws IOException {
        Path file = dir.resolve("picture.png");
        Files.write(file, new byte[1 << 20]);
        Png.write(gradient(8, 8), file, Map.of());
        assertTrue(Files.size(file) < 4096, "size " + Files.size(file));
        assertEquals(8, Png.read(file).width());
    }

    @Test
    void aPlaceThatCannotBeWrittenSaysSo() throws IOException {
        Path notAFolder = Files.writeString(dir.resolve("notes.txt"), "text");
        Path file = notAFolder.resolve("picture.png");
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> Png.write(gradient(8, 8), file, Map.of()));
        assertTrue(e.getMessage().startsWith("cannot write " + file + ": "), e.getMessage());
        Path folder = Files.createDirectories(dir.resolve("a-folder.png"));
        e = assertThrows(UncheckedIOException.class, () -> Png.write(gradient(8, 8), folder, Map.of()));
        assertTrue(e.getMessage().startsWith("cannot write " + folder + ": "), e.getMessage());
    }
}
