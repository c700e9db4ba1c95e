package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

    private static final long MIB = 1 << 20;

    @ParameterizedTest(name = "untouched slabs: {0}")
    @ValueSource(booleans = {true, false})
    void aFreedLargeBlockServesASmallerRequest(boolean untouchedSlabs) {
        try (CpuMemoryPool pool = new CpuMemoryPool(untouchedSlabs)) {
            CpuMemoryPool.Allocation wide = pool.allocate(8 * MIB);
            long address = wide.segment().address();
            wide.release().run();
            CpuMemoryPool.Allocation narrow = pool.allocate(3 * MIB + 1);
            assertEquals(address, narrow.segment().address());
            assertEquals(3 * MIB + 1, narrow.segment().byteSize(), "the block is exactly as large as asked");
            assertEquals(0, narrow.segment().address() % 64);
        }
    }

    @ParameterizedTest(name = "untouched slabs: {0}")
    @ValueSource(booleans = {true, false})
    void neighboursFreedMergeIntoOneBlock(boolean untouchedSlabs) {
        try (CpuMemoryPool pool = new CpuMemoryPool(untouchedSlabs)) {
            CpuMemoryPool.Allocation first = pool.allocate(4 * MIB);
            CpuMemoryPool.Allocation middle = pool.allocate(4 * MIB);
            CpuMemoryPool.Allocation last = pool.allocate(4 * MIB);
            CpuMemoryPool.Allocation after = pool.allocate(4 * MIB);
            long address = first.segment().address();
            first.release().run();
            last.release().run();
            middle.release().run();
            CpuMemoryPool.Allocation whole = pool.allocate(12 * MIB);
            assertEquals(address, whole.segment().address(), "the three freed blocks serve one of their joint size");
            whole.release().run();
            after.release().run();
        }
    }

    @ParameterizedTest(name = "untouched slabs: {0}")
    @ValueSource(booleans = {true, false})
    void theSmallestFreeRangeThatFitsIsTaken(boolean untouchedSlabs) {
        try (CpuMemoryPool pool = new CpuMemoryPool(untouchedSlabs)) {
            CpuMemoryPool.Allocation wideHole = pool.allocate(16 * MIB);
            CpuMemoryPool.Allocation fence = pool.allocate(MIB);
            CpuMemoryPool.Allocation narrowHole = pool.allocate(5 * MIB);
            CpuMemoryPool.Allocation fenceAfter = pool.allocate(MIB);
            long wideAddress = wideHole.segment().address();
            long narrowAddress = narrowHole.segment().address();
            wideHole.release().run();
            narrowHole.release().run();
            CpuMemoryPool.Allocation request = pool.allocate(4 * MIB);
            assertEquals(narrowAddress, request.segment().address(), "the 5 MiB hole, not the 16 MiB one");
            CpuMemoryPool.Allocation large = pool.allocate(16 * MIB);
            assertEquals(wideAddress, large.segment().address(), "the 16 MiB hole was kept whole for it");
            List.of(fence, fenceAfter, request, large).forEach(block -> block.release().run());
        }
    }

    @ParameterizedTest(name = "untouched slabs: {0}")
    @ValueSource(booleans = {true, false})
    void aRequestLargerThanASlabGetsASlabOfItsOwn(boolean untouchedSlabs) {
        try (CpuMemoryPool pool = new CpuMemoryPool(untouchedSlabs)) {
            CpuMemoryPool.Allocation small = pool.allocate(2 * MIB);
            long size = pool.slabBytes() + MIB;
            CpuMemoryPool.Allocation huge = pool.allocate(size);
            assertEquals(size, huge.segment().byteSize());
            huge.segment().set(ValueLayout.JAVA_BYTE, size - 1, (byte) 1);
            small.release().run();
            huge.release().run();
        }
    }

    @Test
    void anUntouchedSlabCountsOnlyThePagesItsBlocksReached() {
        try (CpuMemoryPool pool = new CpuMemoryPool(true)) {
            CpuMemoryPool.Allocation block = pool.allocate(8 * MIB);
            assertTrue(pool.peakBytes() >= 8 * MIB && pool.peakBytes() < 9 * MIB, "held: " + pool.peakBytes());
            block.release().run();
        }
        try (CpuMemoryPool pool = new CpuMemoryPool(false)) {
            pool.allocate(8 * MIB).release().run();
            assertEquals(CpuMemoryPool.ZEROED_SLAB_BYTES, pool.peakBytes(), "a zeroed slab is resident in full");
        }
    }

    @ParameterizedTest(name = "untouched slabs: {0}")
    @ValueSource(booleans = {true, false})
    void trimmingFreesTheSlabsNoBlockIsTakenFrom(boolean untouchedSlabs) {
        try (CpuMemoryPool pool = new CpuMemoryPool(untouchedSlabs)) {
            CpuMemoryPool.Allocation inFirstSlab = pool.allocate(pool.slabBytes() - MIB);
            CpuMemoryPool.Allocation inSecondSlab = pool.allocate(2 * MIB);
            MemorySegment second = inSecondSlab.segment();
            inSecondSlab.release().run();

            pool.trim();

            assertFalse(second.scope().isAlive(), "the slab left unused is freed");
            assertTrue(inFirstSlab.segment().scope().isAlive(), "the slab with a block in use stays");
            inFirstSlab.segment().set(ValueLayout.JAVA_BYTE, inFirstSlab.segment().byteSize() - 1, (byte) 1);
            assertEquals(pool.slabBytes() - MIB, pool.bytesInUse());
            inFirstSlab.release().run();
        }
    }

    @ParameterizedTest(name = "untouched slabs: {0}")
    @ValueSource(booleans = {true, false})
    void trimmingAboveASizeKeepsTheSlabsUpToIt(boolean untouchedSlabs) {
        try (CpuMemoryPool pool = new CpuMemoryPool(untouchedSlabs)) {
            CpuMemoryPool.Allocation block = pool.allocate(2 * MIB);
            MemorySegment slab = block.segment();
            block.release().run();
            pool.trimLargerThan(pool.slabBytes());
            assertTrue(slab.scope().isAlive(), "a slab of the size kept stays");
            pool.trimLargerThan(pool.slabBytes() - 1);
            assertFalse(slab.scope().isAlive());
        }
    }
}
