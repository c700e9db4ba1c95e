package dev.jdiffusion.cpu;

import static dev.jdiffusion.cpu.KernelAsserts.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class GemmBlockingTest {
    private static final long[] L1_SIZES = {16 << 10, 32 << 10, 48 << 10, 64 << 10, 128 << 10, 2 << 20};

    @Test
    void theWeightBlockTakesAtMostTwoThirdsOfL1() {
        for (long l1 : L1_SIZES) {
            int kc = GemmLayout.Blocking.forL1(l1).kc();
            assertEquals(0, kc % 16, l1 + " bytes: K blocks of whole vectors");
            assertTrue(kc >= 64 && kc <= GemmLayout.MAX_KC, l1 + " bytes: kc " + kc);
            assertTrue(kc == 64 || (long) kc * GemmLayout.NR * Float.BYTES <= l1 * 2 / 3, l1 + " bytes: kc " + kc);
        }
        if (GemmLayout.NR == 64) { // AVX-512's 16-float vectors, four to a panel
            assertEquals(128, GemmLayout.Blocking.forL1(48 << 10).kc());
            assertEquals(80, GemmLayout.Blocking.forL1(32 << 10).kc());
        }
    }

    @Test
    void kBlocksAreEvenWholeVectorsNoLongerThanTheBlockings() {
        for (long l1 : L1_SIZES) {
            GemmLayout.Blocking blocking = GemmLayout.Blocking.forL1(l1);
            for (int k = 1; k <= 3000; k++) {
                int step = blocking.kBlock(k);
                int blocks = (k + step - 1) / step;
                assertTrue(step % 16 == 0 && step <= Math.max(16, blocking.kc()), "k=" + k + ": step " + step);
                assertTrue(k - (blocks - 1) * step > 0, "k=" + k + ": an empty last block");
                assertEquals((k + blocking.kc() - 1) / blocking.kc(), blocks, "k=" + k + ": more blocks than needed");
            }
        }
    }

    @Test
    void productsGiveTheSameBitsWhateverTheL1TheyAreBlockedForAndWhicheverOrderTheirTilesTake() {
        Random r = new Random(5);
        // K of several blocks for every L1, across one and several panels and over one row tile; the last K is
        // too long for a tile of the fewest rows to pack all of it.
        int[][] shapes = {{131, 700, 77}, {131, 700, 2600}, {131, 5000, 77}};
        try (Parallel parallel = new Parallel(1)) {
            for (int[] shape : shapes) {
                int m = shape[0];
                int k = shape[1];
                int n = shape[2];
                PackedMatrix weight = PackedMatrix.of(random(r, n * k, 1), n, k, new AtomicLong());
                GemmKernel.Panels panels = weight.gemmPanels(parallel);
                Arena arena = Arena.ofAuto();
                MemorySegment a = arena.allocateFrom(ValueLayout.JAVA_FLOAT, random(r, m * k, 1));
                MemorySegment bias = arena.allocateFrom(ValueLayout.JAVA_FLOAT, random(r, n, 1));
                float[] first = null;
                for (long l1 : L1_SIZES) {
                    GemmLayout.Blocking blocking = GemmLayout.Blocking.forL1(l1);
                    // Tiles that pack A for the whole of K, and tiles that pack and walk K block by block.
                    for (GemmLayout.Blocking order : List.of(blocking, new GemmLayout.Blocking(blocking.kc(), 0))) {
                        assertEquals(order.wholeKFloats() > 0 && k < 5000, order.tiling(1, m, k, panels.count()).wholeK(),
                                m + "x" + k + "x" + n + ", " + order);
                        MemorySegment c = arena.allocate((long) m * n * Float.BYTES, 64);
                        GemmKernel.gemm(parallel, new DenseRows(a, k), m, panels, bias, c, order);
                        float[] result = c.toArray(ValueLayout.JAVA_FLOAT);
                        if (first == null) {
                            first = result;
                        } else {
                            assertArrayEquals(first, result, m + "x" + k + "x" + n + ", " + order);
                        }
                    }
                }
            }
        }
    }

    @Test
    void cacheSizesReadAsSysfsWritesThem() {
        assertEquals(48 << 10, L1DataCache.bytes("48K"));
        assertEquals(2 << 20, L1DataCache.bytes(" 2M\n"));
        assertEquals(32768, L1DataCache.bytes("32768"));
        for (String bad : new String[] {"", "K", "48KB", "-32K", "0", "big"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> L1DataCache.bytes(bad));
            assertTrue(e.getMessage().contains("not a cache size"), e.getMessage());
        }
        assertTrue(L1DataCache.hostBytes() > 0);
    }
}
