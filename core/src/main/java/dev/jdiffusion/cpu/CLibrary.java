package dev.jdiffusion.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

/** Functions of the C library, where the JVM allows this module native access. */
final class CLibrary {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final boolean NATIVE_ACCESS = CLibrary.class.getModule().isNativeAccessEnabled();

    private CLibrary() {}

    /** A handle on the C library's function {@code name}; null without native access or where there is none. */
    static MethodHandle function(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        if (!NATIVE_ACCESS) {
            return null;
        }
        return LINKER.defaultLookup().find(name)
                .map(address -> LINKER.downcallHandle(address, descriptor, options))
                .orElse(null);
    }
}
