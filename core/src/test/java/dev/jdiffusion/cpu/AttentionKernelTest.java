package dev.jdiffusion.cpu;

import static dev.jdiffusion.cpu.KernelAsserts.random;

import dev.jdiffusion.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AttentionKernelTest {
    /** The kernels under test; a subclass runs every case on the scalar fallback. */
    CpuKernels kernels() {
        return KernelChoice.kernels();
    }


    @Test
    void matchesScalarReferenceCausalAndNot() {
        Random r = new Random(11);
        try (CpuBackend backend = new CpuBackend(3, kernels())) {
            int[][] cases = { // batch, queries, keys, heads, headDim
                    {1, 1, 1, 1, 1}, {2, 5, 5, 1, 7}, {1, 77, 77, 4, 16}, {2, 13, 13, 3, 40}, {1, 300, 300, 2, 64},
                    {1, 17, 17, 5, 33}, {2, 130, 130, 1, 8}};
            for (int[] c : cases) {
                for (boolean causal : new boolean[] {false, true}) {
                    check(backend, r, c[0], c[1], c[2], c[3], c[4], causal);
                }
            }
            // Cross-attention: keys from elsewhere, a different count than the queries.
            check(backend, r, 2, 37, 77, 2, 16, false);
            check(backend, r, 1, 129, 3, 4, 5, false);
        }
    }

    private static void check(CpuBackend backend, Random r, int batch, int queries, int keys, int heads, int dim,
            boolean causal) {
        int width = heads * dim;
        float[] q = random(r, batch * queries * width, 1);
        float[] k = random(r, batch * keys * width, 1);
        float[] v = random(r, batch * keys * width, 1);
        double scale = 1 / Math.sqrt(dim);
        double[] expected = ScalarReference.attention(q, k, v, batch, queries, keys, heads, dim, scale, causal);
        try (Tensor tq = backend.fromFloats(q, batch, queries, width);
                Tensor tk = backend.fromFloats(k, batch, keys, width);
                Tensor tv = backend.fromFloats(v, batch, keys, width);
                Tensor out = backend.attention(tq, tk, tv, heads, (float) scale, causal)) {
            KernelAsserts.assertClose(expected, out.toFloatArray(), 2e-6, 2e-5,
                    "attention b=" + batch + " q=" + queries + " k=" + keys + " h=" + heads + " d=" + dim + " causal=" + causal);
        }
    }
}
