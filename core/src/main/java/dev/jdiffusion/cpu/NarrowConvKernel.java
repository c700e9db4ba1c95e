package dev.jdiffusion.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A convolution with few output channels: the VAE decoder's last (128 channels to 3, over 512x512 pixels), the
 * U-Net's last (320 to 4) and the VAE encoder's (512 to 8). As a matrix product its columns would fill an eighth
 * or less of a weight panel ({@link GemmLayout#NR} wide, 64 floats with AVX-512), so the GEMM would spend most of
 * its multiplications on zeros: the VAE's last convolution ran at 5% of the FMA peak with 32-float panels, about
 * as long as a 128-channel convolution at full width. Here the vectors run along the input channels instead:
 * each output is a dot product of its patch with a row of the weight, four pixels by four output channels at a
 * time (sixteen accumulators, each vector of input serving four outputs and each vector of weights four pixels),
 * summed across the lanes at the end.
 * That last sum goes pairwise in a fixed order ({@link VectorMath#pairwiseSums}): {@code reduceLanes} would add
 * in an order that differs between the JIT's tiers, and a picture would change in its last bits as the code warms.
 */
final class NarrowConvKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat FLOATS = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Output pixels, and output channels, per pass of the micro-kernel. */
    private static final int PIXELS = 4;
    private static final int OUTPUTS = 4;
    /**
     * Most output channels for this path: up to an eighth of an AVX-512 weight panel, where the GEMM wastes seven
     * eighths of its work or more, and this path's two passes of four outputs still read each patch from cache.
     */
    static final int MAX_OUTPUTS = 2 * OUTPUTS;
    /** Each thread's room for the patches of the pixels at an edge. */
    private static final ThreadLocal<MemorySegment> SCRATCH = ThreadLocal.withInitial(() -> MemorySegment.NULL);

    private NarrowConvKernel() {}

    /** Whether a convolution takes this path: at most {@link #MAX_OUTPUTS} output channels, whole vectors of input ones. */
    static boolean applies(ConvPatches input, int outChannels) {
        return outChannels <= MAX_OUTPUTS && input.channels() % VL == 0;
    }

    /**
     * {@code out = conv(input, weight) + bias} over {@code batch} items, channels-last; bias may be null.
     */
    static void convolve(Parallel parallel, ConvPatches input, int batch, PackedMatrix weight, MemorySegment bias,
            MemorySegment out) {
        int outputs = weight.out;
        int groups = (outputs + OUTPUTS - 1) / OUTPUTS;
        float[] rows = weightRows(weight.gemmPanels(parallel), groups * OUTPUTS);
        float[] biases = new float[groups * OUTPUTS];
        if (bias != null) {
            MemorySegment.copy(bias, FLOATS, 0, biases, 0, outputs);
        }
        // per kernel column and output column (and PIXELS past the last): where in its row the input pixel under
        // the tap starts, -1 on the padding; the same for every row
        int span = input.outWidth() + PIXELS;
        long[] columns = new long[input.kernelWidth() * span];
        for (int kx = 0; kx < input.kernelWidth(); kx++) {
            for (int ox = 0; ox < span; ox++) {
                columns[kx * span + ox] = ox < input.outWidth()
                        ? input.columnOffset(ox * input.stride() + kx - input.padLeft()) : -1;
            }
        }
        int outHeight = input.outHeight();
        parallel.forEach(batch * outHeight, task -> {
            int b = task / outHeight;
            int oy = task % outHeight;
            outputRow(input, b, oy, columns, rows, biases, outputs, out);
        });
    }

    /**
     * The weight as rows {@code [output][k]} ({@code k} in the patches' {@code (ky, kx, c)} order), widened to
     * floats; rows past the last output are zero.
     */
    private static float[] weightRows(GemmKernel.Panels panels, int rowCount) {
        int k = panels.in();
        float[] panel = new float[k * GemmLayout.NR];
        panels.widen(0, panel, 0, panel.length); // the outputs fit the first panel
        float[] rows = new float[rowCount * k];
        for (int o = 0; o < panels.out(); o++) {
            for (int i = 0; i < k; i++) {
                rows[o * k + i] = panel[i * GemmLayout.NR + o];
            }
        }
        return rows;
    }

    /**
     * One row of the output, {@link #PIXELS} pixels at a time. Where the pixels' taps all fall inside the input,
     * evenly spaced (everywhere but the edges), the kernel reads them in place, taps that follow each other in
     * memory (a kernel row's, at stride 1) in one run; elsewhere the pixels' patches are first gathered into this
     * thread's scratch, one run each, zeros where a tap falls on the padding or a pixel is past the row's end.
     */
    private static void outputRow(ConvPatches input, int b, int oy, long[] columns, float[] rows, float[] biases,
            int outputs, MemorySegment out) {
        int kernelWidth = input.kernelWidth();
        int taps = input.kernelHeight() * kernelWidth;
        int channels = input.channels();
        long tapBytes = (long) channels * Float.BYTES;
        int k = taps * channels;
        int outWidth = input.outWidth();
        int span = outWidth + PIXELS;
        long[] rowAt = new long[input.kernelHeight()];
        for (int ky = 0; ky < rowAt.length; ky++) {
            rowAt[ky] = input.rowOffset(b, oy * input.stride() + ky - input.padTop());
        }
        long pixelStep = input.stride() * tapBytes;
        long[] offsets = new long[taps * PIXELS];
        Runs runs = new Runs(taps);
        float[] sums = new float[PIXELS * OUTPUTS];
        float[] vectors = new float[PIXELS * OUTPUTS * VL];
        for (int ox0 = 0; ox0 < outWidth; ox0 += PIXELS) {
            boolean inPlace = true;
            for (int tap = 0; tap < taps; tap++) {
                long row = rowAt[tap / kernelWidth];
                int column = (tap % kernelWidth) * span + ox0;
                for (int p = 0; p < PIXELS; p++) {
                    long at = row < 0 || columns[column + p] < 0 ? -1 : row + columns[column + p];
                    offsets[tap * PIXELS + p] = at;
                    inPlace &= at >= 0 && at == offsets[tap * PIXELS] + p * pixelStep;
                }
            }
            MemorySegment x;
            long step;
            runs.clear();
            if (inPlace) {
                x = input.input();
                step = pixelStep;
                for (int tap = 0; tap < taps; tap++) {
                    runs.add(offsets[tap * PIXELS], channels);
                }
            } else {
                x = gather(input.input(), offsets, taps, tapBytes);
                step = k * (long) Float.BYTES;
                runs.add(0, k);
            }
            for (int o0 = 0; o0 < outputs; o0 += OUTPUTS) {
                multiply(x, runs, step, rows, o0 * k, k, vectors, sums);
                long pixel = (((long) b * input.outHeight() + oy) * outWidth + ox0) * outputs;
                for (int p = 0; p < PIXELS && ox0 + p < outWidth; p++) {
                    for (int o = o0; o < Math.min(outputs, o0 + OUTPUTS); o++) {
                        out.setAtIndex(FLOATS, pixel + (long) p * outputs + o, sums[p * OUTPUTS + o - o0] + biases[o]);
                    }
                }
            }
        }
    }

    /**
     * The first pixel's patch as contiguous runs of input, in the weight's order: run {@code i} is {@code floats[i]}
     * floats from byte {@code at[i]}.
     */
    private static final class Runs {
        final long[] at;
        final int[] floats;
        int count;

        Runs(int most) {
            at = new long[most];
            floats = new int[most];
        }

        void clear() {
            count = 0;
        }

        /** The next {@code length} floats of the patch, from byte {@code from}: the last run grows where they continue it. */
        void add(long from, int length) {
            if (count > 0 && from == at[count - 1] + (long) floats[count - 1] * Float.BYTES) {
                floats[count - 1] += length;
            } else {
                at[count] = from;
                floats[count++] = length;
            }
        }
    }

    /**
     * The patches of {@link #PIXELS} pixels, {@code [pixel][tap][channel]}, in this thread's scratch: tap {@code t} of
     * pixel {@code p} from {@code offsets[t * PIXELS + p]} of {@code input}, zeros where that is -1.
     */
    private static MemorySegment gather(MemorySegment input, long[] offsets, int taps, long tapBytes) {
        long bytes = PIXELS * taps * tapBytes;
        MemorySegment scratch = SCRATCH.get();
        if (scratch.byteSize() < bytes) {
            scratch = Arena.ofAuto().allocate(bytes, 64);
            SCRATCH.set(scratch);
        }
        for (int p = 0; p < PIXELS; p++) {
            for (int tap = 0; tap < taps; tap++) {
                long to = (p * taps + tap) * tapBytes;
                long from = offsets[tap * PIXELS + p];
                if (from < 0) {
                    scratch.asSlice(to, tapBytes).fill((byte) 0);
                } else {
                    MemorySegment.copy(input, from, scratch, to, tapBytes);
                }
            }
        }
        return scratch;
    }

    /**
     * {@code sums[p * OUTPUTS + o]}: the dot product of pixel {@code p}'s patch with weight row {@code o} (from
     * {@code rowsAt}, rows {@code k} apart). The first pixel's patch is {@code runs}; each next pixel's is
     * {@code pixelStep} bytes on. The accumulators are summed across their lanes from {@code vectors}.
     */
    private static void multiply(MemorySegment x, Runs runs, long pixelStep, float[] rows, int rowsAt, int k,
            float[] vectors, float[] sums) {
        FloatVector s00 = FloatVector.zero(S), s01 = s00, s02 = s00, s03 = s00;
        FloatVector s10 = s00, s11 = s00, s12 = s00, s13 = s00;
        FloatVector s20 = s00, s21 = s00, s22 = s00, s23 = s00;
        FloatVector s30 = s00, s31 = s00, s32 = s00, s33 = s00;
        int w = rowsAt;
        for (int run = 0; run < runs.count; run++) {
            long a0 = runs.at[run], a1 = a0 + pixelStep, a2 = a1 + pixelStep, a3 = a2 + pixelStep;
            int floats = runs.floats[run];
            for (int c = 0; c < floats; c += VL, w += VL) {
                long byteOffset = (long) c * Float.BYTES;
                FloatVector p0 = FloatVector.fromMemorySegment(S, x, a0 + byteOffset, ORDER);
                FloatVector p1 = FloatVector.fromMemorySegment(S, x, a1 + byteOffset, ORDER);
                FloatVector p2 = FloatVector.fromMemorySegment(S, x, a2 + byteOffset, ORDER);
                FloatVector p3 = FloatVector.fromMemorySegment(S, x, a3 + byteOffset, ORDER);
                FloatVector w0 = FloatVector.fromArray(S, rows, w);
                s00 = p0.fma(w0, s00);
                s10 = p1.fma(w0, s10);
                s20 = p2.fma(w0, s20);
                s30 = p3.fma(w0, s30);
                FloatVector w1 = FloatVector.fromArray(S, rows, w + k);
                s01 = p0.fma(w1, s01);
                s11 = p1.fma(w1, s11);
                s21 = p2.fma(w1, s21);
                s31 = p3.fma(w1, s31);
                FloatVector w2 = FloatVector.fromArray(S, rows, w + 2 * k);
                s02 = p0.fma(w2, s02);
                s12 = p1.fma(w2, s12);
                s22 = p2.fma(w2, s22);
                s32 = p3.fma(w2, s32);
                FloatVector w3 = FloatVector.fromArray(S, rows, w + 3 * k);
                s03 = p0.fma(w3, s03);
                s13 = p1.fma(w3, s13);
                s23 = p2.fma(w3, s23);
                s33 = p3.fma(w3, s33);
            }
        }
        s00.intoArray(vectors, 0 * VL);
        s01.intoArray(vectors, 1 * VL);
        s02.intoArray(vectors, 2 * VL);
        s03.intoArray(vectors, 3 * VL);
        s10.intoArray(vectors, 4 * VL);
        s11.intoArray(vectors, 5 * VL);
        s12.intoArray(vectors, 6 * VL);
        s13.intoArray(vectors, 7 * VL);
        s20.intoArray(vectors, 8 * VL);
        s21.intoArray(vectors, 9 * VL);
        s22.intoArray(vectors, 10 * VL);
        s23.intoArray(vectors, 11 * VL);
        s30.intoArray(vectors, 12 * VL);
        s31.intoArray(vectors, 13 * VL);
        s32.intoArray(vectors, 14 * VL);
        s33.intoArray(vectors, 15 * VL);
        VectorMath.pairwiseSums(vectors, PIXELS * OUTPUTS, sums);
    }
}
