package dev.jdiffusion.cpu;

/**
 * The rows of a matrix product's left operand, produced block by block straight into the packed
 * layout {@link GemmKernel} reads: strips of {@link GemmLayout#MR} rows, each stored k-major
 * ({@code packed[at + strip * kc * MR + kk * MR + r]}), rows past the end zero. A convolution produces its
 * patches here on the fly, so the patch matrix is never materialised.
 */
interface RowSource {
    /**
     * Packs rows {@code [m0, m0 + mc)} x columns {@code [k0, k0 + kc)} into {@code packed} from index {@code at},
     * interleaving each strip with {@code writer}.
     */
    void pack(int m0, int mc, int k0, int kc, float[] packed, int at, StripWriter writer);
}
