package dev.jdiffusion.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Off-heap memory for activations, reused by exact size. A diffusion loop allocates the same shapes
 * every step, so after the first step nearly every allocation is a reuse: no page faults, no zeroing,
 * no allocator calls. Blocks are 64-byte aligned.
 */
final class CpuMemoryPool implements AutoCloseable {
    private static final long ALIGNMENT = 64;

    private record Block(Arena arena, MemorySegment segment) {}

    private final Map<Long, ArrayDeque<Block>> free = new HashMap<>();
    private long bytesInUse;
    private long bytesCached;
    private long peakBytes;

    /** A block of exactly {@code bytes}; give it back through the returned release action. */
    synchronized Allocation allocate(long bytes) {
        long size = Math.max(bytes, 1);
        ArrayDeque<Block> blocks = free.get(size);
        Block block = blocks == null ? null : blocks.poll();
        if (block == null) {
            Arena arena = Arena.ofShared();
            block = new Block(arena, arena.allocate(size, ALIGNMENT));
        } else {
            bytesCached -= size;
        }
        bytesInUse += size;
        peakBytes = Math.max(peakBytes, bytesInUse + bytesCached);
        Block allocated = block;
        return new Allocation(block.segment.asSlice(0, bytes), () -> release(allocated));
    }

    record Allocation(MemorySegment segment, Runnable release) {}

    private synchronized void release(Block block) {
        long size = block.segment.byteSize();
        bytesInUse -= size;
        bytesCached += size;
        free.computeIfAbsent(size, s -> new ArrayDeque<>()).push(block);
    }

    /**
     * Frees every cached block not in use, and hands the C heap's free pages back to the operating system (a
     * point between phases, where the weights of the phase before have been unloaded too).
     */
    synchronized void trim() {
        trimLargerThan(0);
        NativeHeap.returnFreePages();
    }

    /** Frees the cached blocks of more than {@code bytes}; those of at most {@code bytes} stay for reuse. */
    synchronized void trimLargerThan(long bytes) {
        var sizes = free.entrySet().iterator();
        while (sizes.hasNext()) {
            var size = sizes.next();
            if (size.getKey() > bytes) {
                size.getValue().forEach(block -> block.arena.close());
                bytesCached -= size.getKey() * size.getValue().size();
                sizes.remove();
            }
        }
    }

    synchronized long bytesInUse() {
        return bytesInUse;
    }

    /** The most memory held at once, in use and cached. */
    synchronized long peakBytes() {
        return peakBytes;
    }

    @Override
    public void close() {
        trim();
    }
}
