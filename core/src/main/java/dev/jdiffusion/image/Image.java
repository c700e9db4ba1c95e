package dev.jdiffusion.image;

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
