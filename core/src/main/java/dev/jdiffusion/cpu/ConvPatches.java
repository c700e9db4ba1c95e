package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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

    private static final ThreadLocal<float[]> CHANNEL_RUN = ThreadLocal.withInitial(() -> new float[0]);

    @Override
    public void pack(int m0, int mc, int k0, int kc, float[] packed) {
        int mr = GemmLayout.MR;
        int k1 = k0 + kc;
        float[] channelRun = CHANNEL_RUN.get();
        if (channelRun.length < channels) {
            channelRun = new float[channels];
            CHANNEL_RUN.set(channelRun);
        }
        int firstTap = k0 / channels;
        int lastTap = (k1 - 1) / channels;
        for (int strip = 0; strip * mr < mc; strip++) {
            int base = strip * kc * mr;
            for (int r = 0; r < mr; r++) {
                int row = strip * mr + r;
                if (row >= mc) {
                    for (int kk = 0; kk < kc; kk++) {
                        packed[base + kk * mr + r] = 0f;
                    }
                    continue;
                }
                int m = m0 + row;
                int b = m / (outHeight * outWidth);
                int pixel = m - b * outHeight * outWidth;
                int oy = pixel / outWidth;
                int ox = pixel - oy * outWidth;
                for (int tap = firstTap; tap <= lastTap; tap++) {
                    int ky = tap / kernelWidth;
                    int kx = tap - ky * kernelWidth;
                    int iy = oy * stride + ky - padTop;
                    int ix = ox * stride + kx - padLeft;
                    int cFrom = Math.max(k0, tap * channels) - tap * channels;
                    int cTo = Math.min(k1, (tap + 1) * channels) - tap * channels;
                    int at = base + (tap * channels + cFrom - k0) * mr + r;
                    if (iy < 0 || iy >= height || ix < 0 || ix >= width) {
                        for (int c = cFrom; c < cTo; c++, at += mr) {
                            packed[at] = 0f;
                        }
                    } else {
                        // one bulk copy of the channel run, then the strided spread into the strip
                        int sy = sourceRows == null ? iy : sourceRows[iy];
                        int sx = sourceColumns == null ? ix : sourceColumns[ix];
                        long source = ((((long) b * sourceHeight + sy) * sourceWidth + sx) * channels + cFrom) * Float.BYTES;
                        int run = cTo - cFrom;
                        MemorySegment.copy(input, ValueLayout.JAVA_FLOAT_UNALIGNED, source, channelRun, 0, run);
                        for (int c = 0; c < run; c++, at += mr) {
                            packed[at] = channelRun[c];
                        }
                    }
                }
            }
        }
    }
}
