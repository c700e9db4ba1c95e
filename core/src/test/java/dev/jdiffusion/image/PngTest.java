package dev.jdiffusion.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
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
    void grayscaleIsReadAsStoredNotAsLinearLight() throws IOException {
        int[] levels = {0, 64, 128, 200, 255};
        BufferedImage eightBit = new BufferedImage(levels.length, 1, BufferedImage.TYPE_BYTE_GRAY);
        BufferedImage sixteenBit = new BufferedImage(levels.length, 1, BufferedImage.TYPE_USHORT_GRAY);
        for (int x = 0; x < levels.length; x++) {
            eightBit.getRaster().setSample(x, 0, 0, levels[x]);
            sixteenBit.getRaster().setSample(x, 0, 0, levels[x] * 257);
        }
        for (BufferedImage gray : List.of(eightBit, sixteenBit)) {
            Path file = dir.resolve("gray" + gray.getType() + ".png");
            ImageIO.write(gray, "png", file.toFile());
            byte[] read = Png.read(file).toBytes();
            for (int x = 0; x < levels.length; x++) {
                for (int c = 0; c < 3; c++) {
                    assertEquals(levels[x], Byte.toUnsignedInt(read[x * 3 + c]), "type " + gray.getType() + ", x " + x);
                }
            }
        }
    }

    @Test
    void javasImagesConvertBothWays() {
        Image image = gradient(24, 16);
        BufferedImage picture = image.toBufferedImage();
        assertEquals(image.toBytes()[3 * 5] & 0xff, (picture.getRGB(5, 0) >> 16) & 0xff, "red of pixel 5");
        assertEquals(image, Image.fromBufferedImage(picture));
        BufferedImage withAlpha = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        withAlpha.setRGB(0, 0, 0x00102030);
        withAlpha.setRGB(1, 0, 0xff405060);
        assertArrayEquals(new byte[] {0x10, 0x20, 0x30, 0x40, 0x50, 0x60}, Image.fromBufferedImage(withAlpha).toBytes(),
                "alpha is dropped, the colour kept, as PIL's convert(\"RGB\") does");
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
    void aMissingFileIsNotCalledUnreadable() {
        Path missing = dir.resolve("missing.png");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Png.read(missing));
        assertEquals(missing + " does not exist", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Png.readText(missing));
        assertEquals(missing + " does not exist", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Png.read(dir));
        assertEquals(dir + " is not a file", e.getMessage());
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
