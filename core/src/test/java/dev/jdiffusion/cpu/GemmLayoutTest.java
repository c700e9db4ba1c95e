package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GemmLayoutTest {
    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = {1, 2, 3})
    void theTilesCoverEveryRowAndPanelOnceInWholeStrips(int threads) {
        try (Parallel parallel = new Parallel(threads)) {
            for (int m : new int[] {1, 5, 6, 7, 97, 200, 384, 2048, 8192}) {
                for (int k : new int[] {40, 320, 2880}) {
                    for (int panels : new int[] {1, 3, 10, 80}) {
                        GemmLayout.Tiling tiling = GemmLayout.tiling(threads, m, k, panels);
                        AtomicIntegerArray covered = new AtomicIntegerArray(m * panels);
                        tiling.forEach(parallel, (m0, mc, p0, p1) -> {
                            assertTrue(mc > 0 && p1 > p0, "an empty tile");
                            assertTrue(m0 % GemmLayout.MR == 0 && (mc % GemmLayout.MR == 0 || m0 + mc == m),
                                    "rows " + m0 + " + " + mc + " are not whole strips");
                            for (int row = m0; row < m0 + mc; row++) {
                                for (int p = p0; p < p1; p++) {
                                    covered.incrementAndGet(row * panels + p);
                                }
                            }
                        });
                        for (int i = 0; i < covered.length(); i++) {
                            assertEquals(1, covered.get(i), "m=" + m + " k=" + k + " panels=" + panels + ": row "
                                    + i / panels + ", panel " + i % panels);
                        }
                    }
                }
            }
        }
    }
}
