package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;

/**
 * The patches of a 2-D convolution over a channels-last input {@code [batch, height, width, channels]}
 * as the rows of a matrix product (implicit GEMM): row {@code (b, oy, ox)} holds, tap by tap in
 * {@code (ky, kx)} order, the channels of the input pixel under that tap, zero where the tap falls on
 * padding. The weight is packed in the same {@code (ky, kx, c)} order. Channels-last makes each tap a
 * contiguous run of the input.
 *
 * <p>The convolution may read its input through a nearest-neighbour resize ({@code sourceRows},
 * {@code sourceColumns}: the input row and column under each row and column of the resized image of
 * {@code height x width}), so an upsampling followed by a convolution never forms the upsampled tensor.
 * Both are null for a plain convolution, whose input is {@code height x width} itself.
 */
record ConvPatches(MemorySegment input, int height, int width, int channels, int kernelHeight, int kernelWidth,
        int stride, int padTop, int padLeft, int outHeight, int outWidth, int[] sourceRows, int[] sourceColumns,
        int sourceHeight, int sourceWidth) implements RowSource {

    private static final ThreadLocal<long[]> ROW_OFFSETS = ThreadLocal.withInitial(() -> new long[GemmLayout.MR]);
    private static final ThreadLocal<int[]> ROW_PIXELS = ThreadLocal.withInitial(() -> new int[3 * GemmLayout.MR]);

    @Override
    public void pack(int m0, int mc, int k0, int kc, float[] packed, int at, StripWriter writer) {
        int mr = GemmLayout.MR;
        int k1 = k0 + kc;
        long[] rowOffsets = ROW_OFFSETS.get();
        // per row of the strip: batch item, output row and column (batch -1 past the last row)
        int[] pixels = ROW_PIXELS.get();
        int firstTap = k0 / channels;
        int lastTap = (k1 - 1) / channels;
        int outPixels = outHeight * outWidth;
        for (int strip = 0; strip * mr < mc; strip++) {
            for (int r = 0; r < mr; r++) {
                int row = strip * mr + r;
                int m = m0 + row;
                int b = row < mc ? m / outPixels : -1;
                int pixel = m - Math.max(b, 0) * outPixels;
                pixels[3 * r] = b;
                pixels[3 * r + 1] = pixel / outWidth;
                pixels[3 * r + 2] = pixel % outWidth;
            }
            for (int tap = firstTap; tap <= lastTap; tap++) {
                int ky = tap / kernelWidth;
                int kx = tap - ky * kernelWidth;
                int cFrom = Math.max(k0, tap * channels) - tap * channels;
                int cTo = Math.min(k1, (tap + 1) * channels) - tap * channels;
                for (int r = 0; r < mr; r++) {
                    int b = pixels[3 * r];
                    int iy = pixels[3 * r + 1] * stride + ky - padTop;
                    int ix = pixels[3 * r + 2] * stride + kx - padLeft;
                    long pixel = b < 0 ? -1 : pixelOffset(b, iy, ix); // -1: a tap on the padding, or a row past the end
                    rowOffsets[r] = pixel < 0 ? -1 : pixel + (long) cFrom * Float.BYTES;
                }
                int runAt = at + strip * kc * mr + (tap * channels + cFrom - k0) * mr;
                writer.writeRows(input, rowOffsets, cTo - cFrom, packed, runAt);
            }
        }
    }

    /**
     * The byte offset of input pixel {@code (iy, ix)} of item {@code b}, in the {@code height x width} image the
     * convolution sees (through the resize maps when given); -1 where it falls on the padding.
     */
    long pixelOffset(int b, int iy, int ix) {
        long row = rowOffset(b, iy);
        long column = columnOffset(ix);
        return row < 0 || column < 0 ? -1 : row + column;
    }

    /** The byte offset of the first pixel of row {@code iy} of item {@code b} (as {@link #pixelOffset}); -1 on the padding. */
    long rowOffset(int b, int iy) {
        if (iy < 0 || iy >= height) {
            return -1;
        }
        int sy = sourceRows == null ? iy : sourceRows[iy];
        return ((long) b * sourceHeight + sy) * sourceWidth * channels * Float.BYTES;
    }

    /** The byte offset of pixel {@code ix} from the start of its row (as {@link #pixelOffset}); -1 on the padding. */
    long columnOffset(int ix) {
        if (ix < 0 || ix >= width) {
            return -1;
        }
        int sx = sourceColumns == null ? ix : sourceColumns[ix];
        return (long) sx * channels * Float.BYTES;
    }
}
