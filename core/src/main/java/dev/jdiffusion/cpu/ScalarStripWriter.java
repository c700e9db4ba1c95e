package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The strip interleaving of the scalar kernels: each run copied in bulk, then spread one float at a time. */
final class ScalarStripWriter implements StripWriter {
    static final ScalarStripWriter INSTANCE = new ScalarStripWriter();

    private static final ThreadLocal<float[]> RUN = ThreadLocal.withInitial(() -> new float[0]);

    private ScalarStripWriter() {}

    @Override
    public void writeRows(MemorySegment source, long[] rowOffsets, int run, float[] strip, int at) {
        int mr = GemmLayout.MR;
        float[] values = RUN.get();
        if (values.length < run) {
            values = new float[run];
            RUN.set(values);
        }
        for (int r = 0; r < mr; r++) {
            int to = at + r;
            if (rowOffsets[r] < 0) {
                for (int c = 0; c < run; c++, to += mr) {
                    strip[to] = 0f;
                }
            } else {
                MemorySegment.copy(source, ValueLayout.JAVA_FLOAT_UNALIGNED, rowOffsets[r], values, 0, run);
                for (int c = 0; c < run; c++, to += mr) {
                    strip[to] = values[c];
                }
            }
        }
    }
}
