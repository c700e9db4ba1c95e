package dev.jdiffusion.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Padding;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ProfilingBackendTest {

    @Test
    void countsCallsAndWorkPerKindAndPerShape() {
        try (ProfilingBackend backend = new ProfilingBackend(new CpuBackend(1)); Arena arena = Arena.ofConfined()) {
            LinearWeight linear = backend.prepareLinear(new RawTensor("w", DType.F32, new long[] {5, 4},
                    arena.allocate(5 * 4 * Float.BYTES)));
            ConvWeight conv = backend.prepareConv(new RawTensor("c", DType.F32, new long[] {6, 2, 3, 3},
                    arena.allocate(6 * 2 * 9 * Float.BYTES)));
            try (Tensor x = backend.fromFloats(new float[3 * 4], 3, 4);
                    Tensor wide = backend.fromFloats(new float[2 * 3 * 4], 2, 3, 4);
                    Tensor image = backend.fromFloats(new float[8 * 8 * 2], 1, 8, 8, 2)) {
                backend.linear(x, linear, null).close();
                backend.linear(x, linear, null).close();
                backend.linear(wide, linear, null).close();
                backend.conv2d(image, conv, null, 1, Padding.of(1)).close();
            }
            double linearFlops = 2.0 * (3 + 3 + 6) * 4 * 5;
            double convFlops = 2.0 * 8 * 8 * 6 * 2 * 9;
            assertEquals(linearFlops + convFlops, backend.totalFlops(), 1e-9);

            String byKind = backend.report(0);
            assertTrue(row(byKind, "linear").startsWith("| linear | 3 |"), byKind);
            assertTrue(row(byKind, "conv3x3").startsWith("| conv3x3 | 1 |"), byKind);

            String byShape = backend.reportByShape(0, 10);
            assertTrue(row(byShape, "linear 3x4 -> 5").startsWith("| linear 3x4 -> 5 | 2 |"), byShape);
            assertTrue(row(byShape, "linear 6x4 -> 5").startsWith("| linear 6x4 -> 5 | 1 |"), byShape);
            String convRow = row(byShape, "conv3x3 1x8x8x2 -> 6");
            assertTrue(convRow.contains(String.format(java.util.Locale.ROOT, " %.1f |", convFlops / 1e9)), convRow);
            assertEquals(2 + 1, backend.reportByShape(0, 1).lines().count(), "header, rule and the longest row only");

            backend.reset();
            assertEquals(0, backend.totalFlops());
            assertEquals(2, backend.reportByShape(0, 10).lines().count(), "nothing left after a reset");
            linear.close();
            conv.close();
        }
    }

    private static String row(String table, String op) {
        return Arrays.stream(table.split("\n")).filter(line -> line.startsWith("| " + op + " |")).findFirst()
                .orElse("(no row for " + op + ")");
    }
}
