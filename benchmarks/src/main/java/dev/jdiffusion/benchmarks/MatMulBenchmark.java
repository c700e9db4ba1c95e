package dev.jdiffusion.benchmarks;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Tensor;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The CPU backend's matrix product {@code [M, K] x [K, N]} (a linear layer with pre-packed weights) at
 * the shapes Stable Diffusion runs: U-Net attention projections and feed-forwards at 64x64 and 32x32
 * latents, CLIP's projections and MLP for a guided batch of two prompts.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class MatMulBenchmark {
    /** {@code MxKxN}. */
    @Param({"4096x320x320", "4096x1280x320", "4096x320x2560", "1024x640x640", "77x768x768", "154x768x3072"})
    public String shape;

    /** Backend threads; 0 means every core. */
    @Param({"0"})
    public int threads;

    private CpuBackend backend;
    private LinearWeight weight;
    private Tensor input;

    /** Parses {@code MxKxN}. */
    public static int[] dims(String shape) {
        String[] parts = shape.split("x");
        return new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1]), Integer.parseInt(parts[2])};
    }

    /** Floating-point operations of one product of the given shape. */
    public static double flops(String shape) {
        int[] d = dims(shape);
        return 2.0 * d[0] * d[1] * d[2];
    }

    @Setup(Level.Trial)
    public void setup() {
        int[] d = dims(shape);
        backend = threads == 0 ? new CpuBackend() : new CpuBackend(threads);
        Random random = new Random(42);
        float[] w = new float[d[2] * d[1]];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        float[] x = new float[d[0] * d[1]];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        weight = backend.prepareLinear(w, d[2], d[1]);
        input = backend.fromFloats(x, d[0], d[1]);
    }

    @Benchmark
    public float linear() {
        try (Tensor y = backend.linear(input, weight, null)) {
            return y.dim(0);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        input.close();
        weight.close();
        backend.close();
    }
}
