package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

class ArrayAlignmentTest {
    private static final int LINE_FLOATS = ArrayAlignment.LINE_BYTES / Float.BYTES;

    @Test
    void lineStartsComeOneLineApartAndNoFurtherThanALineAhead() {
        assumeTrue(ArrayAlignment.class.getModule().isNativeAccessEnabled(),
                "without native access the arrays' lines cannot be found, and every index is its own start");
        float[] array = new float[1000];
        // the collector may move the array between two calls (a stale answer costs only speed), so a pass
        // that saw it move is tried again
        String failure = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            failure = lineStartsOf(array);
            if (failure == null) {
                return;
            }
        }
        throw new AssertionError(failure);
    }

    /** What is wrong with the line starts {@link ArrayAlignment#lineStart} gives {@code array}, or null. */
    private static String lineStartsOf(float[] array) {
        int first = ArrayAlignment.lineStart(array, 0);
        if (first < 0 || first >= LINE_FLOATS) {
            return "the first line starts at " + first;
        }
        for (int from = 0; from < 3 * LINE_FLOATS; from++) {
            int at = ArrayAlignment.lineStart(array, from);
            if (at < from || at >= from + LINE_FLOATS || (at - first) % LINE_FLOATS != 0) {
                return "from " + from + ": " + at + ", with the first line at " + first;
            }
        }
        return null;
    }
}
