package dev.jdiffusion.image;

/**
 * Resizes a picture as Pillow's {@code Image.resize(size, Image.LANCZOS)} resizes an 8-bit RGB one, to the
 * bit: diffusers resizes img2img's init image so (down to multiples of 8), so a picture resized here starts
 * the same generation.
 *
 * <p>Pillow's method: each output sample is a weighted sum of the input samples under a Lanczos window of
 * three lobes, stretched by the scale when shrinking (so that it filters, not just samples); the weights of
 * each output position are normalised to sum to one, then fixed to 22 fractional bits; sums start at one
 * half and are cut back to 8 bits and clamped. A horizontal pass runs first (over the rows the vertical pass
 * will read), then a vertical one, each only where that side changes size.
 */
public final class LanczosResampler {
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double LOBES = 3.0;

    private LanczosResampler() {}

    /** {@code image} resized to {@code width x height} (the same image where the size does not change). */
    public static Image resize(Image image, int width, int height) {
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("cannot resize to " + width + "x" + height);
        }
        if (width == image.width() && height == image.height()) {
            return image;
        }
        Weights vertical = new Weights(image.height(), height);
        byte[] samples = image.toBytes();
        int firstRow = 0;
        if (width != image.width()) {
            firstRow = vertical.first[0];
            int lastRow = vertical.first[height - 1] + vertical.count[height - 1];
            samples = horizontal(samples, image.width(), firstRow, lastRow, new Weights(image.width(), width));
        }
        if (height != image.height()) {
            samples = vertical(samples, width, firstRow, vertical);
        }
        return Image.fromBytes(width, height, samples);
    }

    /** Rows {@code [firstRow, lastRow)} of {@code samples} ({@code inWidth} wide), resampled along the rows. */
    private static byte[] horizontal(byte[] samples, int inWidth, int firstRow, int lastRow, Weights weights) {
        int outWidth = weights.outSize;
        byte[] out = new byte[(lastRow - firstRow) * outWidth * 3];
        for (int y = firstRow; y < lastRow; y++) {
            int rowStart = y * inWidth * 3;
            for (int x = 0; x < outWidth; x++) {
                int[] k = weights.fixed[x];
                int from = weights.first[x];
                for (int c = 0; c < 3; c++) {
                    int sum = 1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < weights.count[x]; i++) {
                        sum += Byte.toUnsignedInt(samples[rowStart + (from + i) * 3 + c]) * k[i];
                    }
                    out[((y - firstRow) * outWidth + x) * 3 + c] = clip8(sum);
                }
            }
        }
        return out;
    }

    /** {@code samples} ({@code width} wide, its row 0 being source row {@code firstRow}) resampled down the columns. */
    private static byte[] vertical(byte[] samples, int width, int firstRow, Weights weights) {
        byte[] out = new byte[weights.outSize * width * 3];
        for (int y = 0; y < weights.outSize; y++) {
            int[] k = weights.fixed[y];
            int from = weights.first[y] - firstRow;
            for (int x = 0; x < width; x++) {
                for (int c = 0; c < 3; c++) {
                    int sum = 1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < weights.count[y]; i++) {
                        sum += Byte.toUnsignedInt(samples[((from + i) * width + x) * 3 + c]) * k[i];
                    }
                    out[(y * width + x) * 3 + c] = clip8(sum);
                }
            }
        }
        return out;
    }

    private static byte clip8(int sum) {
        return (byte) Math.clamp(sum >> PRECISION_BITS, 0, 255);
    }

    /** For each output position of one side: its first input sample, how many it reads, and their fixed weights. */
    private static final class Weights {
        final int outSize;
        final int[] first;
        final int[] count;
        final int[][] fixed;

        Weights(int inSize, int outSize) {
            this.outSize = outSize;
            this.first = new int[outSize];
            this.count = new int[outSize];
            this.fixed = new int[outSize][];
            double scale = (double) inSize / outSize;
            double filterScale = Math.max(scale, 1.0);
            double support = LOBES * filterScale;
            double stretch = 1.0 / filterScale; // multiplied, not divided by, as Pillow does: the last bit counts
            for (int out = 0; out < outSize; out++) {
                double center = (out + 0.5) * scale;
                // Truncations toward zero, as C's casts: the bounds are the window's ends rounded half up.
                int from = Math.max((int) (center - support + 0.5), 0);
                int reads = Math.min((int) (center + support + 0.5), inSize) - from;
                double[] w = new double[reads];
                double total = 0;
                for (int i = 0; i < reads; i++) {
                    w[i] = lanczos((i + from - center + 0.5) * stretch);
                    total += w[i];
                }
                int[] k = new int[reads];
                for (int i = 0; i < reads; i++) {
                    double normalised = total != 0 ? w[i] / total : w[i];
                    double scaled = normalised * (1 << PRECISION_BITS);
                    k[i] = (int) (normalised < 0 ? scaled - 0.5 : scaled + 0.5);
                }
                first[out] = from;
                count[out] = reads;
                fixed[out] = k;
            }
        }
    }

    /** The three-lobe Lanczos window: {@code sinc(x) sinc(x / 3)} on {@code [-3, 3)}. */
    private static double lanczos(double x) {
        return -LOBES <= x && x < LOBES ? sinc(x) * sinc(x / LOBES) : 0.0;
    }

    private static double sinc(double x) {
        if (x == 0.0) {
            return 1.0;
        }
        double angle = x * Math.PI;
        return StrictMath.sin(angle) / angle;
    }
}
