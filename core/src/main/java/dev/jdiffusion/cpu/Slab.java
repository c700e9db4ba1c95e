package dev.jdiffusion.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One large off-heap region that {@link CpuMemoryPool} carves blocks out of: the bookkeeping of its free
 * ranges, which merge with their free neighbours when a block comes back, so that the bytes of a tensor of one
 * size serve tensors of any other later. Not thread-safe; the pool guards it.
 */
final class Slab {
    private static final long PAGE_BYTES = 4096;

    private final Arena arena;
    private final MemorySegment memory;
    private final boolean touchedOnUse;
    /** Free ranges, offset to length in bytes, never adjacent (adjacent ones are merged). */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    /** The end of the furthest block ever taken: how far an untouched slab's pages have been used. */
    private long highWater;

    private Slab(Arena arena, MemorySegment memory, boolean touchedOnUse) {
        this.arena = arena;
        this.memory = memory;
        this.touchedOnUse = touchedOnUse;
        free.put(0L, memory.byteSize());
    }

    /**
     * A slab of fresh pages, resident only as far as its blocks reach; empty where such memory cannot be had
     * ({@link NativeHeap#allocateUntouched}).
     */
    static Optional<Slab> untouched(long bytes, long alignment) {
        Arena arena = Arena.ofShared();
        Optional<Slab> slab = NativeHeap.allocateUntouched(bytes, alignment, arena)
                .map(memory -> new Slab(arena, memory, true));
        if (slab.isEmpty()) {
            arena.close();
        }
        return slab;
    }

    /** A slab zeroed, and so resident, in full from the start. */
    static Slab zeroed(long bytes, long alignment) {
        Arena arena = Arena.ofShared();
        return new Slab(arena, arena.allocate(bytes, alignment), false);
    }

    long byteSize() {
        return memory.byteSize();
    }

    /** The bytes of this slab that are resident: all of a zeroed one, the pages its blocks reached of the other. */
    long residentBytes() {
        return touchedOnUse ? Math.min(memory.byteSize(), (highWater + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES)
                : memory.byteSize();
    }

    boolean isUnused() {
        return free.size() == 1 && free.firstEntry().getValue() == memory.byteSize();
    }

    /**
     * The offset of the smallest free range of at least {@code bytes} (the lowest of equal ones), or -1 where
     * there is none.
     */
    long smallestFit(long bytes) {
        long best = -1;
        long bestLength = Long.MAX_VALUE;
        for (Map.Entry<Long, Long> range : free.entrySet()) {
            if (range.getValue() >= bytes && range.getValue() < bestLength) {
                best = range.getKey();
                bestLength = range.getValue();
            }
        }
        return best;
    }

    /** The length of the free range at {@code offset}. */
    long freeLength(long offset) {
        return free.get(offset);
    }

    /** Takes {@code bytes} from the start of the free range at {@code offset}. */
    void take(long offset, long bytes) {
        long rangeLength = free.remove(offset);
        if (rangeLength > bytes) {
            free.put(offset + bytes, rangeLength - bytes);
        }
        highWater = Math.max(highWater, offset + bytes);
    }

    /** The block at {@code offset}, {@code bytes} long, as a segment of this slab. */
    MemorySegment block(long offset, long bytes) {
        return memory.asSlice(offset, bytes);
    }

    /** Gives back the block at {@code offset}, merging it with the free ranges either side. */
    void give(long offset, long bytes) {
        long start = offset;
        long end = offset + bytes;
        Map.Entry<Long, Long> before = free.floorEntry(offset);
        if (before != null && before.getKey() + before.getValue() == offset) {
            start = before.getKey();
            free.remove(start);
        }
        Long after = free.get(end);
        if (after != null) {
            free.remove(end);
            end += after;
        }
        free.put(start, end - start);
    }

    /** Frees the region; blocks taken from it must not be used afterwards. */
    void free() {
        arena.close();
    }
}
