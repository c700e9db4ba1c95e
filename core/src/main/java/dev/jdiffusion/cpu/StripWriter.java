package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;

/**
 * Writes the rows of one packed A strip ({@link GemmLayout#MR} rows, k-major: {@code strip[at + c * MR + r]})
 * from runs of consecutive floats, one run per row. This interleaving is the whole cost of producing a
 * convolution's patches, so each kernel set brings its own.
 */
interface StripWriter {
    /**
     * For each row {@code r < MR}: {@code strip[at + c * MR + r] = source[rowOffsets[r] + c]} for {@code c < run},
     * or zero where {@code rowOffsets[r]} is negative (padding, or a row past the matrix).
     *
     * @param rowOffsets byte offsets into {@code source}, {@link GemmLayout#MR} of them
     */
    void writeRows(MemorySegment source, long[] rowOffsets, int run, float[] strip, int at);
}
