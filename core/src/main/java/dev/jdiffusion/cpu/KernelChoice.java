package dev.jdiffusion.cpu;

import java.util.Locale;

/**
 * Which kernels this JVM runs. The Vector API is an incubator module that the JVM resolves only when
 * asked ({@code --add-modules jdk.incubator.vector}); a host application that did not ask would otherwise
 * fail with {@code NoClassDefFoundError} deep inside a kernel. Without it, the scalar kernels run and one
 * warning says how to get the fast ones. {@code -Djdiffusion.kernels=scalar} picks them on purpose.
 */
final class KernelChoice {
    /** System property: {@code vector} (the default where available) or {@code scalar}. */
    static final String PROPERTY = "jdiffusion.kernels";
    /**
     * System property: {@code 16} or {@code 32}, the vector registers the vector kernels size their tiles for,
     * where the guess from the architecture and the vector width is wrong (or, in tests, to run the tiles of
     * another machine).
     */
    static final String REGISTERS_PROPERTY = "jdiffusion.vectorRegisters";

    static final boolean VECTOR_MODULE_PRESENT = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /**
     * Whether the vector kernels' tiles are sized for sixteen vector registers rather than 32
     * ({@link VectorKernels#sixteenVectorRegisters}), decided once for all of them.
     */
    static final boolean SIXTEEN_VECTOR_REGISTERS = VECTOR_MODULE_PRESENT && VectorKernels.sixteenVectorRegisters();

    private KernelChoice() {}

    /** The kernels of this JVM, chosen (and the warning given) once. */
    static CpuKernels kernels() {
        return Chosen.KERNELS;
    }

    private static final class Chosen {
        static final CpuKernels KERNELS = choose();
    }

    private static CpuKernels choose() {
        String wanted = System.getProperty(PROPERTY, "vector").trim().toLowerCase(Locale.ROOT);
        if (!wanted.equals("vector") && !wanted.equals("scalar")) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + wanted + ": expected vector or scalar");
        }
        if (wanted.equals("scalar")) {
            return new ScalarKernels();
        }
        if (!VECTOR_MODULE_PRESENT) {
            System.getLogger(CpuBackend.class.getName()).log(System.Logger.Level.WARNING,
                    "the JVM was started without the Vector API module, so jdiffusion runs its scalar kernels, "
                            + "many times slower; start java with --add-modules jdk.incubator.vector for the fast ones");
            return new ScalarKernels();
        }
        try {
            // By name, so that this class links on a JVM without the module.
            return (CpuKernels) Class.forName("dev.jdiffusion.cpu.VectorKernels").getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot load the Vector API kernels", e);
        }
    }
}
