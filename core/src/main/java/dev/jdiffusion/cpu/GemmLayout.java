package dev.jdiffusion.cpu;

/**
 * The blocking of the matrix product, shared by the packing of weights ({@link PackedMatrix}), of the
 * left operand ({@link RowSource}) and by both kernel sets.
 */
final class GemmLayout {
    /** Rows per micro-kernel call. */
    static final int MR = 6;
    /** Columns per packed weight panel: two preferred vectors (16 floats where there is no Vector API). */
    static final int NR = KernelChoice.VECTOR_MODULE_PRESENT ? 2 * VectorKernels.preferredFloatLanes() : 16;
    /** K block: KC x NR floats of B (32 KiB with AVX-512) stay in L1. */
    static final int KC = 256;
    /** Rows per tile: the packed A block (MC x KC floats) stays in L2. */
    static final int MC = 16 * MR;

    private GemmLayout() {}
}
