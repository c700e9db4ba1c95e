package dev.jdiffusion.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Hands the C heap's free pages back to the operating system, through glibc's {@code malloc_trim}. Freed
 * memory below glibc's mmap threshold (which rises to 32 MB as large blocks are freed) stays in its heap,
 * resident, for reuse: after a model's panels are unloaded, most of their bytes would otherwise stay with the
 * process while the next model allocates afresh. Nothing happens where the C library has no such function
 * or the JVM does not allow this module native access.
 */
final class NativeHeap {
    private static final MethodHandle MALLOC_TRIM = mallocTrim();

    private NativeHeap() {}

    /** Returns the free pages of the C heap to the operating system, where that can be done. */
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

    private static MethodHandle mallocTrim() {
        if (!NativeHeap.class.getModule().isNativeAccessEnabled()) {
            return null;
        }
        Linker linker = Linker.nativeLinker();
        return linker.defaultLookup().find("malloc_trim")
                .map(address -> linker.downcallHandle(address, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)))
                .orElse(null);
    }
}
