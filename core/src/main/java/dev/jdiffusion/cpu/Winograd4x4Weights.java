package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

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
 *
 * <p>They are made afresh for every convolution, from the direct convolution's panels, rather than kept: as
 * F32 and four times as many values they would take eight times the memory of F16 weights (about 2 GB for the
 * convolutions of a picture's U-Net and VAE that take this path), while transforming, vector by vector along
 * the panels' output channels, takes a few times as long as writing them once: 12 ms on two threads for the
 * 59 MB of a 640 x 640 weight, which a plain fill writes in 4.
 */
final class Winograd4x4Weights {
    /** Rows and columns of a transformed kernel: the input patch of one output tile is this wide. */
    static final int SIDE = 6;
    /** Elements of a transformed kernel, and products per output tile. */
    static final int POSITIONS = SIDE * SIDE;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final int TAPS = 9;
    /**
     * Input channels transformed together: each of the 36 positions then takes one run of {@code CHANNEL_RUN x NR}
     * floats (1 KiB with AVX-512) rather than one row at a time, and the nine taps are widened in runs as long.
     * One channel at a time, 36 scattered rows of 128 bytes, the transform took 1.6 - 1.8 times as long (runs of
     * 16 channels measured as 8, of 4 in between).
     */
    private static final int CHANNEL_RUN = 8;

    private Winograd4x4Weights() {}

    /** Bytes of the transformed form of a 3x3 weight of {@code channels} inputs in {@code panels} panels. */
    static long bytes(int channels, int panels) {
        return (long) POSITIONS * panels * channels * GemmLayout.NR * Float.BYTES;
    }

    /**
     * Panels {@code [firstPanel, firstPanel + panels)} of a weight, transformed together: output channels
     * {@code [first, first + count)}.
     */
    record Group(int firstPanel, int panels, int first, int count) {}

    /**
     * The panels of {@code weight} in groups whose transformed form takes at most {@code groupBytes} (at least
     * one panel each).
     */
    static List<Group> groups(PackedMatrix weight, long groupBytes) {
        int perGroup = (int) Math.max(1, Math.min(weight.panels, groupBytes / bytes(weight.channels, 1)));
        List<Group> groups = new ArrayList<>();
        for (int p0 = 0; p0 < weight.panels; p0 += perGroup) {
            int panels = Math.min(perGroup, weight.panels - p0);
            int first = p0 * GemmLayout.NR;
            groups.add(new Group(p0, panels, first, Math.min(panels * GemmLayout.NR, weight.out - first)));
        }
        return groups;
    }

    /**
     * Transforms the panels of {@code group} of a 3x3 weight given as its direct-convolution panels
     * ({@code [panels][(ky, kx, c)][NR]}, see {@link PackedMatrix}) into {@code u} ({@link #bytes} of the group's
     * panels long, its first panel as the first), one panel per task, {@link #CHANNEL_RUN} input channels at a
     * time.
     */
    static void transform(Parallel parallel, GemmKernel.Panels panels, Group group, MemorySegment u) {
        int first = group.firstPanel();
        int panelCount = group.panels();
        int nr = GemmLayout.NR;
        int in = panels.in();
        int channels = in / TAPS;
        parallel.forEach(panelCount, p -> {
            float[] kernels = new float[TAPS * CHANNEL_RUN * nr]; // the run's 3x3 kernels of the panel: [tap][c][j]
            float[] half = new float[3 * SIDE * VL]; // G g for a vector of output channels: [i][x][lane]
            float[] transformed = new float[POSITIONS * CHANNEL_RUN * nr]; // U: [position][c][j]
            for (int c0 = 0; c0 < channels; c0 += CHANNEL_RUN) {
                int run = Math.min(CHANNEL_RUN, channels - c0);
                int runFloats = run * nr;
                for (int tap = 0; tap < TAPS; tap++) {
                    long element = ((long) (first + p) * in + (long) tap * channels + c0) * nr;
                    panels.widen(element, kernels, tap * runFloats, runFloats);
                }
                for (int c = 0; c < run; c++) {
                    for (int lane = 0; lane < nr; lane += VL) {
                        int at = c * nr + lane;
                        // G g: each column x of g (taps x, 3 + x, 6 + x) becomes six rows
                        for (int x = 0; x < 3; x++) {
                            applyG(kernels, x * runFloats + at, (3 + x) * runFloats + at, (6 + x) * runFloats + at,
                                    half, x * VL, 3 * VL);
                        }
                        // (G g) G^T: each row i of three becomes six positions 6 i + k
                        for (int i = 0; i < SIDE; i++) {
                            int row = 3 * i * VL;
                            applyG(half, row, row + VL, row + 2 * VL, transformed, SIDE * i * runFloats + at,
                                    runFloats);
                        }
                    }
                }
                for (int position = 0; position < POSITIONS; position++) {
                    MemorySegment.copy(transformed, position * runFloats, u, ValueLayout.JAVA_FLOAT,
                            (((long) position * panelCount + p) * channels + c0) * nr * Float.BYTES, runFloats);
                }
            }
        });
    }

    /**
     * {@code G} times the column of vectors at {@code a}, {@code b} and {@code c} of {@code from}: six vectors
     * into {@code to} at {@code at + k * stride}. In float, with the fractions rounded to float: the result
     * carries a few units in the last place of rounding, as the transformed patches do.
     */
    private static void applyG(float[] from, int a, int b, int c, float[] to, int at, int stride) {
        FloatVector x = FloatVector.fromArray(S, from, a);
        FloatVector y = FloatVector.fromArray(S, from, b);
        FloatVector z = FloatVector.fromArray(S, from, c);
        FloatVector outer = x.add(z);
        x.mul(0.5f).intoArray(to, at);
        outer.add(y).mul(-1f / 6).intoArray(to, at + stride);
        outer.sub(y).mul(1f / 6).intoArray(to, at + 2 * stride);
        y.fma(FloatVector.broadcast(S, 2f), z.fma(FloatVector.broadcast(S, 4f), x)).mul(1f / 30)
                .intoArray(to, at + 3 * stride);
        y.fma(FloatVector.broadcast(S, 4f), x.fma(FloatVector.broadcast(S, -8f), z.mul(-2f))).mul(1f / 15)
                .intoArray(to, at + 4 * stride);
        z.mul(0.5f).intoArray(to, at + 5 * stride);
    }
}
