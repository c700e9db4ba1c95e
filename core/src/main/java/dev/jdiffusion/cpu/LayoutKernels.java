package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Kernels that only move data: nearest upsampling, channel concatenation, transposition. */
final class LayoutKernels {
    private LayoutKernels() {}

    /**
     * Nearest-neighbour resize of {@code [batch, height, width, channels]} to {@code outHeight x outWidth},
     * picking source {@code floor(dst * in / out)} in float arithmetic as torch's {@code nearest} does.
     */
    static void upsampleNearest(Parallel parallel, MemorySegment x, MemorySegment out, int batch, int height, int width,
            int channels, int outHeight, int outWidth) {
        int[] sourceRows = nearestSources(height, outHeight);
        int[] sourceColumns = nearestSources(width, outWidth);
        long pixelBytes = (long) channels * Float.BYTES;
        parallel.forEach(batch * outHeight, task -> {
            int b = task / outHeight;
            int oy = task % outHeight;
            int sy = sourceRows[oy];
            for (int ox = 0; ox < outWidth; ox++) {
                int sx = sourceColumns[ox];
                long from = (((long) b * height + sy) * width + sx) * pixelBytes;
                long to = (((long) b * outHeight + oy) * outWidth + ox) * pixelBytes;
                MemorySegment.copy(x, from, out, to, pixelBytes);
            }
        });
    }

    /** For each of {@code size} output positions, the input position torch's {@code nearest} mode reads. */
    static int[] nearestSources(int inputSize, int size) {
        float scale = (float) inputSize / size;
        int[] sources = new int[size];
        for (int i = 0; i < size; i++) {
            sources[i] = Math.min((int) Math.floor(i * scale), inputSize - 1);
        }
        return sources;
    }

    /** {@code out[r] = a[r] ++ b[r]} for {@code rows} rows of {@code widthA} and {@code widthB} floats. */
    static void concatLast(Parallel parallel, MemorySegment a, MemorySegment b, MemorySegment out, int rows, int widthA,
            int widthB) {
        long bytesA = (long) widthA * Float.BYTES;
        long bytesB = (long) widthB * Float.BYTES;
        parallel.forRanges(rows, 256, (from, to) -> {
            for (long r = from; r < to; r++) {
                long o = r * (bytesA + bytesB);
                MemorySegment.copy(a, r * bytesA, out, o, bytesA);
                MemorySegment.copy(b, r * bytesB, out, o + bytesA, bytesB);
            }
        });
    }

    /** {@code out[r] = x[r][from .. from + length)} for rows of {@code width} floats. */
    static void narrowLast(Parallel parallel, MemorySegment x, MemorySegment out, int rows, int width, int from,
            int length) {
        long bytes = (long) length * Float.BYTES;
        parallel.forRanges(rows, 256, (first, last) -> {
            for (long r = first; r < last; r++) {
                MemorySegment.copy(x, (r * width + from) * Float.BYTES, out, r * bytes, bytes);
            }
        });
    }

    /** {@code out[b][c][r] = x[b][r][c]}, in cache-sized blocks. */
    static void transpose(Parallel parallel, MemorySegment x, MemorySegment out, int batch, int rows, int columns) {
        int block = 32;
        int rowBlocks = (rows + block - 1) / block;
        parallel.forEach(batch * rowBlocks, task -> {
            int b = task / rowBlocks;
            int r0 = (task % rowBlocks) * block;
            int r1 = Math.min(rows, r0 + block);
            long base = (long) b * rows * columns;
            for (int c0 = 0; c0 < columns; c0 += block) {
                int c1 = Math.min(columns, c0 + block);
                for (int r = r0; r < r1; r++) {
                    for (int c = c0; c < c1; c++) {
                        float v = x.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, base + (long) r * columns + c);
                        out.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, base + (long) c * rows + r, v);
                    }
                }
            }
        });
    }
}
