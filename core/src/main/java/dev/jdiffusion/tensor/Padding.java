package dev.jdiffusion.tensor;

/** Zero padding around the spatial dimensions of a convolution's input, in pixels per side. */
public record Padding(int top, int bottom, int left, int right) {
    public Padding {
        if (top < 0 || bottom < 0 || left < 0 || right < 0) {
            throw new IllegalArgumentException("padding must be >= 0: " + top + ", " + bottom + ", " + left + ", " + right);
        }
    }

    /** The same padding on every side. */
    public static Padding of(int pixels) {
        return new Padding(pixels, pixels, pixels, pixels);
    }
}
