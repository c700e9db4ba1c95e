package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class CpuMemoryPoolTest {

    @Test
    void aClosedBlockServesTheNextRequestOfItsSize() {
        try (CpuMemoryPool pool = new CpuMemoryPool()) {
            CpuMemoryPool.Allocation first = pool.allocate(4096);
            long address = first.segment().address();
            first.release().run();
            CpuMemoryPool.Allocation second = pool.allocate(4096);
            assertEquals(address, second.segment().address());
            assertEquals(4096, pool.bytesInUse());
            CpuMemoryPool.Allocation other = pool.allocate(1024);
            assertNotEquals(address, other.segment().address());
        }
    }

    @Test
    void trimmingAboveASizeKeepsTheBlocksUpToIt() {
        try (CpuMemoryPool pool = new CpuMemoryPool()) {
            CpuMemoryPool.Allocation wide = pool.allocate(8192);
            CpuMemoryPool.Allocation narrow = pool.allocate(4096);
            MemorySegment wideSegment = wide.segment();
            long narrowAddress = narrow.segment().address();
            wide.release().run();
            narrow.release().run();

            pool.trimLargerThan(4096);

            assertFalse(wideSegment.scope().isAlive(), "the wider block is freed");
            CpuMemoryPool.Allocation again = pool.allocate(4096);
            assertEquals(narrowAddress, again.segment().address(), "the block of the kept size is reused");
            MemorySegment kept = again.segment();
            again.release().run();

            pool.trim();
            assertFalse(kept.scope().isAlive(), "trim frees every cached block");
        }
    }

    @Test
    void blocksInUseAreNeverTrimmed() {
        try (CpuMemoryPool pool = new CpuMemoryPool()) {
            CpuMemoryPool.Allocation live = pool.allocate(8192);
            pool.trimLargerThan(0);
            pool.trim();
            assertTrue(live.segment().scope().isAlive());
            live.segment().fill((byte) 1);
            live.release().run();
        }
    }
}
