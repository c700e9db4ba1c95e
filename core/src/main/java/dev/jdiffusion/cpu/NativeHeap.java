package dev.jdiffusion.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The C heap, where the JVM allows this module native access: memory whose pages are not touched until used,
 * and handing free pages back to the operating system. Elsewhere {@link #allocateUntouched} offers nothing and
 * {@link #returnFreePages} does nothing.
 */
final class NativeHeap {
    private static final MethodHandle MALLOC_TRIM =
            CLibrary.function("malloc_trim", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle MALLOC =
            CLibrary.function("malloc", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle FREE = CLibrary.function("free", FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));

    private NativeHeap() {}

    /** Whether {@link #allocateUntouched} can give memory. */
    static boolean canAllocateUntouched() {
        return MALLOC != null && FREE != null;
    }

    /**
     * {@code bytes} of the C heap, aligned to {@code alignment}, freed when {@code arena} closes; empty where
     * the C heap cannot be reached or refuses that much. Unlike {@link Arena#allocate} the memory is not
     * zeroed: a large block comes straight from the operating system's fresh pages, which cost nothing until
     * written, so a region reserved generously is resident only as far as it is used.
     */
    static Optional<MemorySegment> allocateUntouched(long bytes, long alignment, Arena arena) {
        if (!canAllocateUntouched()) {
            return Optional.empty();
        }
        MemorySegment block;
        try {
            block = (MemorySegment) MALLOC.invokeExact(bytes + alignment);
        } catch (Throwable e) {
            throw new IllegalStateException("malloc failed", e);
        }
        if (block.address() == 0) {
            return Optional.empty();
        }
        MemorySegment owned = block.reinterpret(bytes + alignment, arena, NativeHeap::free);
        long skip = (alignment - owned.address() % alignment) % alignment;
        return Optional.of(owned.asSlice(skip, bytes));
    }

    private static void free(MemorySegment block) {
        try {
            FREE.invokeExact(block);
        } catch (Throwable e) {
            throw new IllegalStateException("free failed", e);
        }
    }

    /**
     * Returns the free pages of the C heap to the operating system, through glibc's {@code malloc_trim}. Freed
     * memory below glibc's mmap threshold (which rises to 32 MB as large blocks are freed) stays in its heap,
     * resident, for reuse: after a model's panels are unloaded, most of their bytes would otherwise stay with
     * the process while the next model allocates afresh. Nothing happens where the C library has no such
     * function.
     */
    static void returnFreePages() {
        if (MALLOC_TRIM == null) {
            return;
        }
        try {
            int releasedAny = (int) MALLOC_TRIM.invokeExact(0L); // 0 when there was nothing to give back: fine too
        } catch (Throwable e) {
            throw new IllegalStateException("malloc_trim failed", e);
        }
    }
}
