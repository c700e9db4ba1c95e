package dev.jdiffusion.image;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.Raster;
import java.util.Arrays;

/**
 * An RGB picture as floats in [0, 1], row-major, channels interleaved ({@code [height][width][3]}),
 * the form diffusers returns with {@code output_type="np"}. Immutable.
 */
public final class Image {
    private final int width;
    private final int height;
    private final float[] rgb;

    public Image(int width, int height, float[] rgb) {
        if (width < 1 || height < 1 || rgb.length != width * height * 3) {
            throw new IllegalArgumentException("an image of " + width + "x" + height + " needs " + (3L * width * height)
                    + " values, got " + rgb.length);
        }
        this.width = width;
        this.height = height;
        this.rgb = rgb.clone();
    }

    /** From 8-bit samples ({@code [height][width][3]}), each divided by 255 as diffusers does. */
    public static Image fromBytes(int width, int height, byte[] rgb) {
        float[] values = new float[rgb.length];
        for (int i = 0; i < rgb.length; i++) {
            values[i] = Byte.toUnsignedInt(rgb[i]) / 255f;
        }
        return new Image(width, height, values);
    }

    /**
     * From a picture of Java's imaging API, as {@code PIL.Image.convert("RGB")} reads it: alpha dropped,
     * grayscale replicated into the three channels as stored, 16-bit samples by their high byte.
     */
    public static Image fromBufferedImage(BufferedImage picture) {
        int width = picture.getWidth();
        int height = picture.getHeight();
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)];
        ColorModel model = picture.getColorModel();
        boolean gray = model.getColorSpace().getType() == ColorSpace.TYPE_GRAY;
        if (model instanceof ComponentColorModel && (gray || model.getComponentSize(0) > 8)) {
            // Read as stored: getRGB would take gray as linear light and brighten every mid-tone (64 -> 137).
            Raster raster = picture.getRaster();
            int bits = model.getComponentSize(0);
            int top = (1 << bits) - 1;
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    for (int c = 0; c < 3; c++) {
                        int sample = raster.getSample(x, y, gray ? 0 : c);
                        int eightBits = bits >= 8 ? sample >> (bits - 8) : Math.round(sample * 255f / top);
                        rgb[(y * width + x) * 3 + c] = (byte) eightBits;
                    }
                }
            }
        } else {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    int argb = picture.getRGB(x, y);
                    int at = (y * width + x) * 3;
                    rgb[at] = (byte) (argb >> 16);
                    rgb[at + 1] = (byte) (argb >> 8);
                    rgb[at + 2] = (byte) argb;
                }
            }
        }
        return fromBytes(width, height, rgb);
    }

    /** As a picture of Java's imaging API (8-bit RGB, {@link #toBytes()}'s samples), to show or to write. */
    public BufferedImage toBufferedImage() {
        BufferedImage picture = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        byte[] samples = toBytes();
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int at = (y * width + x) * 3;
                picture.setRGB(x, y, (Byte.toUnsignedInt(samples[at]) << 16)
                        | (Byte.toUnsignedInt(samples[at + 1]) << 8) | Byte.toUnsignedInt(samples[at + 2]));
            }
        }
        return picture;
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    /** The samples, {@code [height][width][3]} in [0, 1]. */
    public float[] rgb() {
        return rgb.clone();
    }

    /** 8-bit samples: {@code round(v * 255)} (half to even, as numpy), as diffusers' {@code numpy_to_pil}. */
    public byte[] toBytes() {
        byte[] out = new byte[rgb.length];
        for (int i = 0; i < rgb.length; i++) {
            out[i] = (byte) (int) Math.rint(Math.min(1f, Math.max(0f, rgb[i])) * 255f);
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Image other && width == other.width && height == other.height && Arrays.equals(rgb, other.rgb);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * width + height) + Arrays.hashCode(rgb);
    }

    @Override
    public String toString() {
        return "Image[" + width + "x" + height + "]";
    }
}
