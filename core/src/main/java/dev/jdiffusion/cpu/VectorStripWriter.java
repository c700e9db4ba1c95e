package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The strip interleaving of the vector kernels: a vector of each of the strip's rows in, as many interleaved
 * vectors out, through two-vector permutes (three times faster than spreading floats one by one on AVX-512).
 *
 * <p>First the rows are interleaved in pairs: pair {@code q} (rows {@code 2q, 2q + 1}) becomes the stream
 * {@code P_q[2c + s] = row_{2q+s}[c]}, {@code 2 VL} floats in a low and a high vector. Output vector {@code j}
 * holds strip floats {@code [j VL, (j + 1) VL)}, that is {@code (c, r)} pairs from all the streams. The first
 * half of the output vectors draw only on the low halves of the streams and the second half only on the high
 * halves. With six rows, a vector takes pairs from all three streams: one permute from {@code P_0} and
 * {@code P_1}, and one that blends in {@code P_2}. With four rows ({@link GemmLayout#MR} where there are 16
 * vector registers), one permute of {@code P_0} and {@code P_1} makes each output vector.
 *
 * <p>The permutes run on the rows' bits as ints: with float index vectors, each permute would convert its
 * indexes to ints again (with Java's checks for NaN and overflow) in every iteration, which made the packing
 * of A about a sixth of a matrix product's time.
 */
final class VectorStripWriter implements StripWriter {
    static final VectorStripWriter INSTANCE = new VectorStripWriter();

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> LANES = IntVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    /** Pair interleaving: the low and high halves of {@code [a0, b0, a1, b1, ...]}. */
    private static final IntVector PAIR_LOW = pairIndexes(0);
    private static final IntVector PAIR_HIGH = pairIndexes(VL / 2);
    /** Per output vector of a six-row strip: streams 0 and 1 (stream 2's lanes left for the blend), then stream 2. */
    private static final IntVector[] FIRST_TWO = new IntVector[6];
    private static final IntVector[] THIRD = new IntVector[6];

    /** Per output vector of a four-row strip: the low (or high) halves of streams 0 and 1. */
    private static final IntVector[] FOUR_ROWS = new IntVector[4];

    static {
        if (GemmLayout.MR != 6 && GemmLayout.MR != 4) {
            throw new AssertionError("the interleaving is written for 6-row and 4-row strips");
        }
        if (LANES.length() != VL) {
            throw new AssertionError("the permutes need as many int lanes as float lanes");
        }
        for (int j = 0; j < 4; j++) {
            int[] indexes = new int[VL];
            for (int lane = 0; lane < VL; lane++) {
                int g = VL * j + lane;
                int channel = g / 4;
                int row = g % 4;
                int inHalf = 2 * channel + row % 2 - (j < 2 ? 0 : VL);
                indexes[lane] = row / 2 == 0 ? inHalf : VL + inHalf;
            }
            FOUR_ROWS[j] = IntVector.fromArray(LANES, indexes, 0);
        }
        for (int j = 0; j < 6; j++) {
            int[] firstTwo = new int[VL];
            int[] third = new int[VL];
            for (int lane = 0; lane < VL; lane++) {
                int g = VL * j + lane;
                int channel = g / 6;
                int row = g % 6;
                int stream = row / 2;
                int inHalf = 2 * channel + row % 2 - (j < 3 ? 0 : VL);
                firstTwo[lane] = stream == 0 ? inHalf : stream == 1 ? VL + inHalf : 0;
                third[lane] = stream == 2 ? VL + inHalf : lane;
            }
            FIRST_TWO[j] = IntVector.fromArray(LANES, firstTwo, 0);
            THIRD[j] = IntVector.fromArray(LANES, third, 0);
        }
    }

    private VectorStripWriter() {}

    private static IntVector pairIndexes(int firstChannel) {
        int[] indexes = new int[VL];
        for (int lane = 0; lane < VL; lane++) {
            indexes[lane] = (lane % 2) * VL + firstChannel + lane / 2;
        }
        return IntVector.fromArray(LANES, indexes, 0);
    }

    @Override
    public void writeRows(MemorySegment source, long[] rowOffsets, int run, float[] strip, int at) {
        if (GemmLayout.MR == 6) {
            writeSixRows(source, rowOffsets, run, strip, at);
        } else {
            writeFourRows(source, rowOffsets, run, strip, at);
        }
    }

    private static void writeFourRows(MemorySegment source, long[] rowOffsets, int run, float[] strip, int at) {
        long o0 = rowOffsets[0], o1 = rowOffsets[1], o2 = rowOffsets[2], o3 = rowOffsets[3];
        IntVector i0 = FOUR_ROWS[0], i1 = FOUR_ROWS[1], i2 = FOUR_ROWS[2], i3 = FOUR_ROWS[3];
        int c = 0;
        for (; c + VL <= run; c += VL) {
            long bytes = (long) c * Float.BYTES;
            IntVector r0 = row(source, o0, bytes), r1 = row(source, o1, bytes);
            IntVector r2 = row(source, o2, bytes), r3 = row(source, o3, bytes);
            IntVector low0 = PAIR_LOW.selectFrom(r0, r1), high0 = PAIR_HIGH.selectFrom(r0, r1);
            IntVector low1 = PAIR_LOW.selectFrom(r2, r3), high1 = PAIR_HIGH.selectFrom(r2, r3);
            int to = at + c * 4;
            store(i0.selectFrom(low0, low1), strip, to);
            store(i1.selectFrom(low0, low1), strip, to + VL);
            store(i2.selectFrom(high0, high1), strip, to + 2 * VL);
            store(i3.selectFrom(high0, high1), strip, to + 3 * VL);
        }
        writeTail(source, rowOffsets, c, run, strip, at);
    }

    private static void writeSixRows(MemorySegment source, long[] rowOffsets, int run, float[] strip, int at) {
        long o0 = rowOffsets[0], o1 = rowOffsets[1], o2 = rowOffsets[2];
        long o3 = rowOffsets[3], o4 = rowOffsets[4], o5 = rowOffsets[5];
        IntVector a0 = FIRST_TWO[0], a1 = FIRST_TWO[1], a2 = FIRST_TWO[2];
        IntVector a3 = FIRST_TWO[3], a4 = FIRST_TWO[4], a5 = FIRST_TWO[5];
        IntVector b0 = THIRD[0], b1 = THIRD[1], b2 = THIRD[2], b3 = THIRD[3], b4 = THIRD[4], b5 = THIRD[5];
        int c = 0;
        for (; c + VL <= run; c += VL) {
            long bytes = (long) c * Float.BYTES;
            IntVector r0 = row(source, o0, bytes), r1 = row(source, o1, bytes), r2 = row(source, o2, bytes);
            IntVector r3 = row(source, o3, bytes), r4 = row(source, o4, bytes), r5 = row(source, o5, bytes);
            IntVector low0 = PAIR_LOW.selectFrom(r0, r1), high0 = PAIR_HIGH.selectFrom(r0, r1);
            IntVector low1 = PAIR_LOW.selectFrom(r2, r3), high1 = PAIR_HIGH.selectFrom(r2, r3);
            IntVector low2 = PAIR_LOW.selectFrom(r4, r5), high2 = PAIR_HIGH.selectFrom(r4, r5);
            int to = at + c * 6;
            store(b0.selectFrom(a0.selectFrom(low0, low1), low2), strip, to);
            store(b1.selectFrom(a1.selectFrom(low0, low1), low2), strip, to + VL);
            store(b2.selectFrom(a2.selectFrom(low0, low1), low2), strip, to + 2 * VL);
            store(b3.selectFrom(a3.selectFrom(high0, high1), high2), strip, to + 3 * VL);
            store(b4.selectFrom(a4.selectFrom(high0, high1), high2), strip, to + 4 * VL);
            store(b5.selectFrom(a5.selectFrom(high0, high1), high2), strip, to + 5 * VL);
        }
        writeTail(source, rowOffsets, c, run, strip, at);
    }

    /** Floats {@code [from, run)} of every row, one at a time. */
    private static void writeTail(MemorySegment source, long[] rowOffsets, int from, int run, float[] strip, int at) {
        int mr = GemmLayout.MR;
        for (int c = from; c < run; c++) {
            long bytes = (long) c * Float.BYTES;
            int to = at + c * mr;
            for (int r = 0; r < mr; r++) {
                strip[to + r] = rowOffsets[r] < 0 ? 0f : source.get(ValueLayout.JAVA_FLOAT_UNALIGNED, rowOffsets[r] + bytes);
            }
        }
    }

    /** {@code VL} floats of a row from {@code bytes} on, as int bits; a padding row (offset -1) reads as zeros. */
    private static IntVector row(MemorySegment source, long offset, long bytes) {
        return offset < 0 ? IntVector.zero(LANES) : IntVector.fromMemorySegment(LANES, source, offset + bytes, ORDER);
    }

    private static void store(IntVector bits, float[] strip, int at) {
        bits.reinterpretAsFloats().intoArray(strip, at);
    }
}
