package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StripWriterTest {
    private static final int MR = GemmLayout.MR;

    @Test
    void bothWritersInterleaveRowsAndZeroTheMissingOnes() {
        Random random = new Random(3);
        int floats = 4096;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment source = arena.allocate(floats * 4L);
            for (int i = 0; i < floats; i++) {
                source.setAtIndex(ValueLayout.JAVA_FLOAT, i, random.nextFloat() - 0.5f);
            }
            // whole vectors, a tail, a run shorter than a vector, and an empty run
            for (int run : new int[] {320, 37, 5, 1, 0}) {
                long[] offsets = new long[MR];
                for (int trial = 0; trial < 8; trial++) {
                    for (int r = 0; r < MR; r++) {
                        // unaligned starts; about one row in four is padding
                        offsets[r] = random.nextInt(4) == 0 ? -1 : random.nextInt(floats - run + 1) * 4L;
                    }
                    int at = random.nextInt(7);
                    float[] expected = new float[at + run * MR + 3];
                    for (int c = 0; c < run; c++) {
                        for (int r = 0; r < MR; r++) {
                            expected[at + c * MR + r] =
                                    offsets[r] < 0 ? 0f : source.get(ValueLayout.JAVA_FLOAT, offsets[r] + c * 4L);
                        }
                    }
                    for (StripWriter writer : new StripWriter[] {ScalarStripWriter.INSTANCE, VectorStripWriter.INSTANCE}) {
                        float[] strip = new float[expected.length];
                        Arrays.fill(strip, Float.NaN);
                        // what lies outside the run's floats must stay as it was
                        float[] want = expected.clone();
                        for (int i = 0; i < want.length; i++) {
                            if (i < at || i >= at + run * MR) {
                                want[i] = Float.NaN;
                            }
                        }
                        writer.writeRows(source, offsets, run, strip, at);
                        for (int i = 0; i < want.length; i++) {
                            assertEquals(want[i], strip[i],
                                    writer.getClass().getSimpleName() + ", run " + run + ", float " + i);
                        }
                    }
                }
            }
        }
    }
}
