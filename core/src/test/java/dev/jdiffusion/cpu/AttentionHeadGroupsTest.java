package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AttentionHeadGroupsTest {

    /** Heads packed a few at a time (as long sequences are) give the very bits of all heads packed at once. */
    @Test
    void headsPackedInGroupsGiveTheSameBits() {
        int batch = 2, queries = 150, keys = 140, heads = 5, headDim = 24;
        int width = heads * headDim;
        try (Arena arena = Arena.ofShared(); Parallel parallel = new Parallel(3)) {
            Random random = new Random(5);
            MemorySegment q = filled(arena, random, batch * queries * width);
            MemorySegment k = filled(arena, random, batch * keys * width);
            MemorySegment v = filled(arena, random, batch * keys * width);
            int oneHead = (keys + 127) / 128 * 128 * headDim; // the packed floats of one head's values
            float[] allAtOnce = run(parallel, arena, q, k, v, batch, queries, keys, heads, headDim, Integer.MAX_VALUE);
            for (int headsPerGroup : new int[] {1, 3}) {
                assertArrayEquals(allAtOnce,
                        run(parallel, arena, q, k, v, batch, queries, keys, heads, headDim, headsPerGroup * oneHead),
                        "heads packed " + headsPerGroup + " at a time");
            }
        }
    }

    private static float[] run(Parallel parallel, Arena arena, MemorySegment q, MemorySegment k, MemorySegment v,
            int batch, int queries, int keys, int heads, int headDim, int packedFloats) {
        MemorySegment out = arena.allocate((long) batch * queries * heads * headDim * Float.BYTES, 64);
        AttentionKernel.attention(parallel, q, k, v, out, batch, queries, keys, heads, headDim, 0.2f, false,
                packedFloats);
        return out.toArray(ValueLayout.JAVA_FLOAT);
    }

    private static MemorySegment filled(Arena arena, Random random, int count) {
        MemorySegment segment = arena.allocate((long) count * Float.BYTES, 64);
        for (int i = 0; i < count; i++) {
            segment.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextGaussian());
        }
        return segment;
    }
}
