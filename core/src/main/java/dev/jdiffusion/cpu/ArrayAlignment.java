package dev.jdiffusion.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Where a heap float array's cache lines begin. The JVM places arrays on 8-byte boundaries only, so a 64-byte
 * vector read from one usually straddles two cache lines, and a load that does costs more: the GEMM's
 * micro-kernel, reading its weight panel through such loads, ran 4 - 5% faster over cached data from the one
 * offset in sixteen where every load sat on a line of its own.
 *
 * <p>Java does not say where an array lies. A C function sees it, though, when the array is handed to it in a
 * critical call: {@code memmove(p, p, 0)} copies nothing and returns {@code p}. That needs native access (see
 * {@link CLibrary}); without it the arrays are used from their start, as before. The collector may move an
 * array at any safepoint, so a caller asks again for each tile or block of work it fills one for: a stale answer
 * costs speed, never correctness.
 */
final class ArrayAlignment {
    /** The cache line, and the widest vector: 64 bytes. */
    static final int LINE_BYTES = 64;
    /** The most floats {@link #lineStart} skips: room to leave at the end of an array that is to be aligned. */
    static final int SLACK_FLOATS = LINE_BYTES / Float.BYTES;

    /** {@code memmove}, called critically: it may be handed an array on the heap. */
    private static final MethodHandle MEMMOVE = CLibrary.function("memmove",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
            Linker.Option.critical(true));

    private ArrayAlignment() {}

    /**
     * The first index of {@code array} at or after {@code from} whose float starts a cache line, as the array
     * lies now; {@code from} itself where that cannot be known.
     */
    static int lineStart(float[] array, int from) {
        if (MEMMOVE == null) {
            return from;
        }
        long address;
        try {
            MemorySegment data = MemorySegment.ofArray(array);
            address = ((MemorySegment) MEMMOVE.invokeExact(data, data, 0L)).address() + (long) from * Float.BYTES;
        } catch (Throwable e) {
            throw new IllegalStateException("memmove failed", e);
        }
        // a float array lies on a 4-byte boundary at least, so whole floats reach the next line
        long misalignment = address & (LINE_BYTES - 1);
        return misalignment == 0 ? from : from + (int) ((LINE_BYTES - misalignment) / Float.BYTES);
    }
}
