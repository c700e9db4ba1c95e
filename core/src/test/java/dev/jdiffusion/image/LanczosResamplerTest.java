package dev.jdiffusion.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Resizing against Pillow's own output ({@code src/test/resources/lanczos}, made by its {@code make_cases.py}). */
class LanczosResamplerTest {
    /** The drawing {@code make_cases.py} resizes, pixel for pixel. */
    private static Image pattern(String kind, int width, int height) {
        byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                for (int c = 0; c < 3; c++) {
                    int value = kind.equals("noise") ? ((x * 73856093) ^ (y * 19349663) ^ (c * 83492791)) & 255
                            : (x * 255 / (width - 1) + y * 255 / (height - 1) * (c + 1)) % 256;
                    rgb[(y * width + x) * 3 + c] = (byte) value;
                }
            }
        }
        return Image.fromBytes(width, height, rgb);
    }

    @ParameterizedTest(name = "{0} {1}x{2} to {3}x{4}")
    @CsvSource({"noise, 37, 29, 32, 24", "noise, 40, 30, 40, 24", "noise, 30, 40, 24, 40", "noise, 64, 48, 13, 11",
            "noise, 10, 6, 27, 17", "gradient, 203, 157, 200, 152"})
    void resizesAsPillowDoes(String kind, int width, int height, int outWidth, int outHeight) throws URISyntaxException {
        String name = kind + "_" + width + "x" + height + "_to_" + outWidth + "x" + outHeight + ".png";
        Image expected = Png.read(Path.of(getClass().getResource("/lanczos/" + name).toURI()));
        Image resized = LanczosResampler.resize(pattern(kind, width, height), outWidth, outHeight);
        assertEquals(outWidth, resized.width());
        assertEquals(outHeight, resized.height());
        assertArrayEquals(expected.toBytes(), resized.toBytes(), name);
    }

    @Test
    void theSameSizeIsTheSameImage() {
        Image image = pattern("noise", 9, 7);
        assertSame(image, LanczosResampler.resize(image, 9, 7));
    }

    @Test
    void anEmptySizeIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> LanczosResampler.resize(pattern("noise", 9, 7), 0, 7));
    }
}
