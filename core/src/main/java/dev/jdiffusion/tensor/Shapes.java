package dev.jdiffusion.tensor;

import java.util.Arrays;

/** Small helpers on shapes given as {@code int[]} (row-major, last dimension fastest). */
public final class Shapes {
    private Shapes() {}

    /** The number of elements, failing on overflow or a negative dimension. */
    public static long elementCount(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** The product of all dimensions but the last: the number of rows of a row-major matrix view. */
    public static int rows(int... shape) {
        return Math.toIntExact(elementCount(shape) / Math.max(1, shape[shape.length - 1]));
    }

    /** The shape with its last dimension replaced. */
    public static int[] withLast(int[] shape, int last) {
        int[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    public static String toString(int... shape) {
        return Arrays.toString(shape);
    }
}
