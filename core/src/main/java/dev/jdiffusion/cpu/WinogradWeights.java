package dev.jdiffusion.cpu;

import dev.jdiffusion.weights.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The weights of a 3x3 convolution transformed for {@link WinogradKernel}: for each output channel {@code o}
 * and input channel {@code c}, the 6x6 matrix {@code U = G g G^T} of its 3x3 kernel {@code g}, with
 *
 * <pre>
 *     G = |  1/2     0      0    |
 *         | -1/6   -1/6   -1/6   |
 *         |  1/6   -1/6    1/6   |
 *         |  1/30   1/15   2/15  |
 *         | -8/15   4/15  -2/15  |
 *         |   0      0     1/2   |
 * </pre>
 *
 * Element {@code (i, j)} of every {@code U} makes one matrix of its own, {@code [in channels][out channels]},
 * packed in the panels the GEMM micro-kernel reads: {@code u[((position * panels + p) * channels + c) * NR + j]}
 * for output channel {@code p * NR + j} (zero past the last), {@code position = 6 i + j}. The 36 products
 * with these matrices replace the nine taps of the direct convolution for a 4x4 tile of outputs.
 */
final class WinogradWeights {
    /** Rows and columns of a transformed kernel: the input patch of one output tile is this wide. */
    static final int SIDE = 6;
    /** Elements of a transformed kernel, and products per output tile. */
    static final int POSITIONS = SIDE * SIDE;

    private static final double SIXTH = 1.0 / 6;
    private static final double FIFTEENTH = 1.0 / 15;
    private static final double THIRTIETH = 1.0 / 30;
    private static final ValueLayout.OfShort SHORTS = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOATS = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private WinogradWeights() {}

    /**
     * Transforms a stored {@code [out][channels][3][3]} weight of type {@code storage} (F32, F16 or BF16,
     * little-endian) into memory of {@code arena}, one panel of output channels per task. The sums are formed in
     * double and rounded to F32 once.
     */
    static MemorySegment transform(Parallel parallel, MemorySegment stored, DType storage, int out, int channels,
            int panels, Arena arena) {
        int nr = GemmLayout.NR;
        MemorySegment u = arena.allocate((long) POSITIONS * panels * channels * nr * Float.BYTES, 64);
        parallel.forEach(panels, p -> {
            double[] g = new double[9];
            double[] gg = new double[3 * SIDE];
            double[] row = new double[SIDE];
            for (int j = 0; j < nr && p * nr + j < out; j++) {
                int o = p * nr + j;
                for (int c = 0; c < channels; c++) {
                    long first = ((long) o * channels + c) * 9;
                    for (int t = 0; t < 9; t++) {
                        g[t] = weight(stored, storage, first + t);
                    }
                    // G g: six rows of three, each column of g taken through G
                    for (int x = 0; x < 3; x++) {
                        applyG(g[x], g[3 + x], g[6 + x], row);
                        for (int i = 0; i < SIDE; i++) {
                            gg[3 * i + x] = row[i];
                        }
                    }
                    // (G g) G^T: each row of three becomes six
                    for (int i = 0; i < SIDE; i++) {
                        applyG(gg[3 * i], gg[3 * i + 1], gg[3 * i + 2], row);
                        for (int k = 0; k < SIDE; k++) {
                            long position = SIDE * i + k;
                            u.setAtIndex(ValueLayout.JAVA_FLOAT, ((position * panels + p) * channels + c) * nr + j,
                                    (float) row[k]);
                        }
                    }
                }
            }
        });
        return u;
    }

    /** {@code G} times the column {@code (a, b, c)}, into {@code to}. */
    private static void applyG(double a, double b, double c, double[] to) {
        to[0] = a * 0.5;
        to[1] = -(a + b + c) * SIXTH;
        to[2] = (a - b + c) * SIXTH;
        to[3] = (a + 2 * b + 4 * c) * THIRTIETH;
        to[4] = (-8 * a + 4 * b - 2 * c) * FIFTEENTH;
        to[5] = c * 0.5;
    }

    private static double weight(MemorySegment stored, DType storage, long index) {
        return switch (storage) {
            case F32 -> stored.get(FLOATS, index * Float.BYTES);
            case F16 -> Float.float16ToFloat(stored.get(SHORTS, index * 2));
            case BF16 -> Float.intBitsToFloat(stored.get(SHORTS, index * 2) << 16);
            default -> throw new IllegalStateException("weights are never stored as " + storage);
        };
    }
}
