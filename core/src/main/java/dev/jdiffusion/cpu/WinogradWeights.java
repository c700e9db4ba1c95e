package dev.jdiffusion.cpu;

import dev.jdiffusion.weights.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The weights of a 3x3 convolution transformed for {@link WinogradKernel}: for each output channel {@code o}
 * and input channel {@code c}, the 4x4 matrix {@code U = G g G^T} of its 3x3 kernel {@code g}, with
 *
 * <pre>
 *     G = | 1    0    0   |
 *         | 1/2  1/2  1/2 |
 *         | 1/2 -1/2  1/2 |
 *         | 0    0    1   |
 * </pre>
 *
 * Element {@code (i, j)} of every {@code U} makes one matrix of its own, {@code [in channels][out channels]},
 * packed in the panels the GEMM micro-kernel reads: {@code u[((position * panels + p) * channels + c) * NR + j]}
 * for output channel {@code p * NR + j} (zero past the last), {@code position = 4 i + j}. The sixteen
 * products with these matrices replace the nine taps of the direct convolution.
 */
final class WinogradWeights {
    /** Elements of a transformed 4x4 kernel, and products per output tile. */
    static final int POSITIONS = 16;

    private static final ValueLayout.OfShort SHORTS = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOATS = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private WinogradWeights() {}

    /**
     * Transforms a stored {@code [out][channels][3][3]} weight of type {@code storage} (F32, F16 or BF16,
     * little-endian) into memory of {@code arena}, one panel of output channels per task. The sums are formed in
     * double and rounded once.
     */
    static MemorySegment transform(Parallel parallel, MemorySegment stored, DType storage, int out, int channels,
            int panels, Arena arena) {
        int nr = GemmLayout.NR;
        MemorySegment u = arena.allocate((long) POSITIONS * panels * channels * nr * Float.BYTES, 64);
        parallel.forEach(panels, p -> {
            double[] g = new double[9];
            double[] gg = new double[12];
            double[] row = new double[4];
            for (int j = 0; j < nr && p * nr + j < out; j++) {
                int o = p * nr + j;
                for (int c = 0; c < channels; c++) {
                    long first = ((long) o * channels + c) * 9;
                    for (int t = 0; t < 9; t++) {
                        g[t] = weight(stored, storage, first + t);
                    }
                    // G g: four rows of three
                    for (int x = 0; x < 3; x++) {
                        double top = g[x], middle = g[3 + x], bottom = g[6 + x];
                        gg[x] = top;
                        gg[3 + x] = (top + middle + bottom) / 2;
                        gg[6 + x] = (top - middle + bottom) / 2;
                        gg[9 + x] = bottom;
                    }
                    // (G g) G^T: each row of three becomes four
                    for (int i = 0; i < 4; i++) {
                        double left = gg[3 * i], middle = gg[3 * i + 1], right = gg[3 * i + 2];
                        row[0] = left;
                        row[1] = (left + middle + right) / 2;
                        row[2] = (left - middle + right) / 2;
                        row[3] = right;
                        for (int k = 0; k < 4; k++) {
                            long position = 4 * i + k;
                            u.setAtIndex(ValueLayout.JAVA_FLOAT, ((position * panels + p) * channels + c) * nr + j,
                                    (float) row[k]);
                        }
                    }
                }
            }
        });
        return u;
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
