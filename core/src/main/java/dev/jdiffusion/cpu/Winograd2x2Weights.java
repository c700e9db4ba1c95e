package dev.jdiffusion.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The weights of a 3x3 convolution by F(2x2, 3x3) ({@link Winograd2x2Kernel}), made one K block of one panel at
 * a time as the products reach it: for output channel {@code o} and input channel {@code c}, the 4x4 matrix
 * {@code U = G g G^T} of its 3x3 kernel {@code g}, with
 *
 * <pre>
 *     G = |  1    0    0  |
 *         | 1/2  1/2  1/2 |
 *         | 1/2 -1/2  1/2 |
 *         |  0    0    1  |
 * </pre>
 *
 * Element {@code (i, j)} of every {@code U} ({@code position = 4 i + j}) makes one matrix of its own,
 * {@code [in channels][out channels]}, in the panels the GEMM micro-kernel reads. Each is a sum of one, three
 * or nine taps of {@code g}, signed, halved none, once or twice: the four corner positions are taps as they are.
 *
 * <p>Made from the direct convolution's panels (F16 or F32) for every call and never kept, as
 * {@link Winograd4x4Weights} are; but here in the kernel's own buffers just before their products, not all
 * ahead: at the U-Net's 16x16 and 8x8 levels a product has 128 or 32 rows of tiles, too few to pay for writing
 * 16/9 as many values as floats (105 MB for a 1280 x 1280 weight) out to memory and reading them back. The
 * nine taps of a block are widened once, and each position's block is made from them in one pass into a block
 * that stays in L1 for its product: making all 16 blocks in one pass (nine reads, 16 writes) was 1.17 to 1.3
 * times slower, their 512 KB leaving L1 before their products read them.
 */
final class Winograd2x2Weights {
    /** Rows and columns of a transformed kernel: the input patch of one output tile is this wide. */
    static final int SIDE = 4;
    /** Elements of a transformed kernel, and products per output tile. */
    static final int POSITIONS = SIDE * SIDE;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final int NR = GemmLayout.NR;
    private static final int TAPS = 9;
    /** The one tap of a kernel's row (or column) that row {@code i} of {@code G} takes; -1: it takes all three. */
    private static final int[] ROW_TAPS = {0, -1, -1, 2};
    /** The sign of the middle tap where row {@code i} of {@code G} takes all three (the others are positive). */
    private static final float[] MIDDLE_SIGN = {0, 1, -1, 0};

    private Winograd2x2Weights() {}

    /** Floats of the room {@link #widenTaps} and {@link #position} need from their base for {@code kc}-long blocks. */
    static int blockFloats(int kc) {
        return (TAPS + 1) * kc * NR;
    }

    /**
     * Widens the K block {@code [k0, k0 + kc)} of panel {@code p} of the nine taps of the direct convolution
     * ({@code [panels][(ky, kx, c)][NR]}, see {@link PackedMatrix}; {@code channels} input channels) into the first
     * nine {@code kc x NR} blocks of {@code blocks} from {@code base}.
     */
    static void widenTaps(GemmKernel.Panels direct, int channels, int p, int k0, int kc, float[] blocks, int base) {
        int floats = kc * NR;
        for (int tap = 0; tap < TAPS; tap++) {
            direct.widen(((long) p * direct.in() + (long) tap * channels + k0) * NR, blocks, base + tap * floats,
                    floats);
        }
    }

    /**
     * Position {@code q}'s {@code kc x NR} block of transformed weights, from the taps {@link #widenTaps} left in
     * {@code blocks} from {@code base}: where in {@code blocks} it starts. A position that takes one tap is that
     * tap's block; the others are made in the tenth block, three or nine taps summed with their signs and halved
     * once or twice (exactly).
     */
    static int position(int q, float[] blocks, int kc, int base) {
        int floats = kc * NR;
        int i = q / SIDE;
        int j = q % SIDE;
        int made = base + TAPS * floats;
        if (ROW_TAPS[i] >= 0 && ROW_TAPS[j] >= 0) {
            return base + (3 * ROW_TAPS[i] + ROW_TAPS[j]) * floats;
        } else if (ROW_TAPS[i] >= 0) {
            sumOfThree(blocks, base + 3 * ROW_TAPS[i] * floats, floats, MIDDLE_SIGN[j], made, floats);
        } else if (ROW_TAPS[j] >= 0) {
            sumOfThree(blocks, base + ROW_TAPS[j] * floats, 3 * floats, MIDDLE_SIGN[i], made, floats);
        } else {
            sumOfNine(blocks, base, MIDDLE_SIGN[i], MIDDLE_SIGN[j], made, floats);
        }
        return made;
    }

    /** {@code (t0 + sign t1 + t2) / 2} of the blocks at {@code first + n * stride}, into the block at {@code to}. */
    private static void sumOfThree(float[] blocks, int first, int stride, float sign, int to, int floats) {
        for (int k = 0; k < floats; k += VL) {
            sumOfRow(blocks, first + k, stride, sign).mul(0.5f).intoArray(blocks, to + k);
        }
    }

    /**
     * {@code (r0 + rowSign r1 + r2) / 4} with {@code r_a} the sum of row {@code a} of the taps from {@code base} as
     * above.
     */
    private static void sumOfNine(float[] blocks, int base, float rowSign, float columnSign, int to, int floats) {
        for (int k = 0; k < floats; k += VL) {
            FloatVector r0 = sumOfRow(blocks, base + k, floats, columnSign);
            FloatVector r1 = sumOfRow(blocks, base + 3 * floats + k, floats, columnSign);
            FloatVector r2 = sumOfRow(blocks, base + 6 * floats + k, floats, columnSign);
            r0.add(r1.mul(rowSign)).add(r2).mul(0.25f).intoArray(blocks, to + k);
        }
    }

    private static FloatVector sumOfRow(float[] blocks, int at, int stride, float sign) {
        FloatVector t0 = FloatVector.fromArray(S, blocks, at);
        FloatVector t1 = FloatVector.fromArray(S, blocks, at + stride);
        FloatVector t2 = FloatVector.fromArray(S, blocks, at + 2 * stride);
        return t0.add(t1.mul(sign)).add(t2);
    }
}
