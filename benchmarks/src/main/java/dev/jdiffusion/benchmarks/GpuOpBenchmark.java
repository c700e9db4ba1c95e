package dev.jdiffusion.benchmarks;

import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Backends;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Padding;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The heaviest ops of a guided SD 1.5 U-Net step (batch 2, 64x64 latents) one at a time on a GPU, at the shapes
 * {@code kernels-cuda/gpu/torch_side_by_side.py} times through PyTorch, so the two tables sit side by side; then its
 * norms, adds and GEGLU, each as the bandwidth of the bytes it must read and write. Weights
 * are held as {@code --weights-dtype} (F16 by default). Each figure is the median of {@code --runs} after warm-up
 * runs; a run queues the op {@value #REPEATS} times and waits for the GPU once, so the host's wait is spread.
 *
 * <pre>java -cp benchmarks.jar dev.jdiffusion.benchmarks.GpuOpBenchmark [--runs 20] [--weights-dtype F16|BF16|F32] [--only TEXT]</pre>
 *
 * <p>{@code --only} times just the ops whose name contains the text (to run one under a profiler such as {@code ncu}).
 */
public final class GpuOpBenchmark {
    private static final int REPEATS = 10;

    private final Backend backend;
    private final DType type;
    private final int runs;
    private final String only;
    private final TorchGenerator random = new TorchGenerator(0);

    private GpuOpBenchmark(Backend backend, DType type, int runs, String only) {
        this.backend = backend;
        this.type = type;
        this.runs = runs;
        this.only = only;
    }

    public static void main(String[] args) {
        int runs = 20;
        DType type = DType.F16;
        String only = "";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--only" -> only = args[++i];
                case "--weights-dtype" -> type = DType.valueOf(args[++i].toUpperCase(Locale.ROOT));
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        try (Backend backend = Backends.open(Device.cuda(0), 1)) {
            System.out.println("jdiffusion on " + backend.device() + ", weights held as " + type);
            System.out.println("| op | ms (median) | TFLOP/s |");
            System.out.println("|---|---:|---:|");
            new GpuOpBenchmark(backend, type, runs, only).run();
        }
    }

    private void run() {
        int[][] linears = {{8192, 320, 320}, {8192, 320, 2560}, {2048, 640, 640}, {2048, 640, 5120}, {512, 1280, 1280},
                {512, 1280, 10240}};
        for (int[] s : linears) {
            try (Arena arena = Arena.ofConfined();
                    LinearWeight w = backend.prepareLinear(weight(arena, s[2], s[1]), type);
                    Tensor x = randn(s[0], s[1]);
                    Tensor bias = randn(s[2])) {
                figure("linear " + s[0] + "x" + s[1] + " -> " + s[2], 2.0 * s[0] * s[1] * s[2], () -> backend.linear(x, w, bias));
            }
        }
        int[][] convolutions = {{64, 320, 320}, {32, 640, 640}, {16, 1280, 1280}, {16, 2560, 1280}};
        for (int[] s : convolutions) {
            try (Arena arena = Arena.ofConfined();
                    ConvWeight w = backend.prepareConv(weight(arena, s[2], s[1], 3, 3), type);
                    Tensor x = randn(2, s[0], s[0], s[1]);
                    Tensor bias = randn(s[2])) {
                figure("conv3x3 2x" + s[0] + "x" + s[0] + "x" + s[1] + " -> " + s[2], 2.0 * 2 * s[0] * s[0] * s[1] * s[2] * 9,
                        () -> backend.conv2d(x, w, bias, 1, Padding.of(1)));
            }
        }
        int[][] attentions = {{4096, 4096, 40}, {4096, 77, 40}, {1024, 1024, 80}, {256, 256, 160}};
        for (int[] s : attentions) {
            int width = 8 * s[2];
            try (Tensor q = randn(2, s[0], width); Tensor k = randn(2, s[1], width); Tensor v = randn(2, s[1], width)) {
                figure("attention 2x" + s[0] + "x" + s[1] + ", 8 heads of " + s[2], 2.0 * 2 * 2 * 8 * s[0] * s[1] * s[2],
                        () -> backend.attention(q, k, v, 8, (float) (1 / Math.sqrt(s[2])), false));
            }
        }
        memoryBound();
    }

    /** The memory-bound ops at the 64x64 level's sizes: their bytes read and written, as GB/s. */
    private void memoryBound() {
        try (Tensor image = randn(2, 64, 64, 320); Tensor other = randn(2, 64, 64, 320); Tensor gamma = randn(320);
                Tensor beta = randn(320); Tensor rows = randn(8192, 320); Tensor wide = randn(8192, 2560)) {
            double imageBytes = 2.0 * 64 * 64 * 320 * Float.BYTES;
            bandwidth("groupNorm+silu 2x64x64x320, 32 groups", 2 * imageBytes,
                    () -> backend.groupNorm(image, 32, gamma, beta, 1e-5f, true));
            bandwidth("layerNorm 8192x320", 2 * imageBytes, () -> backend.layerNorm(rows, gamma, beta, 1e-5f));
            bandwidth("add 2x64x64x320", 3 * imageBytes, () -> backend.add(image, other));
            bandwidth("geglu 8192x2560 -> 1280", 1.5 * 8192 * 2560 * Float.BYTES, () -> backend.geglu(wide));
        }
    }

    private void bandwidth(String name, double bytes, Supplier<Tensor> op) {
        if (!name.contains(only)) {
            return;
        }
        double median = medianMs(op);
        System.out.printf(Locale.ROOT, "| %s | %.3f | %.0f GB/s |%n", name, median, bytes / median / 1e6);
    }

    private Tensor randn(int... shape) {
        int n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        return backend.fromFloats(random.randn(n), shape);
    }

    /** Random F32 weights [out, in, ...] scaled by 1 / sqrt(fan in), as stored in a file. */
    private RawTensor weight(Arena arena, long... shape) {
        long n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        float scale = (float) (1 / Math.sqrt(n / (double) shape[0]));
        float[] values = random.randn(Math.toIntExact(n));
        MemorySegment data = arena.allocate(ValueLayout.JAVA_FLOAT, n);
        for (int i = 0; i < values.length; i++) {
            data.setAtIndex(ValueLayout.JAVA_FLOAT, i, values[i] * scale);
        }
        return new RawTensor("weight", DType.F32, shape, data);
    }

    private void figure(String name, double flop, Supplier<Tensor> op) {
        if (!name.contains(only)) {
            return;
        }
        double median = medianMs(op);
        System.out.printf(Locale.ROOT, "| %s | %.3f | %.0f |%n", name, median, flop / median / 1e9);
    }

    /** The median time of one op, from {@link #REPEATS} queued back to back and then waited for. */
    private double medianMs(Supplier<Tensor> op) {
        double[] ms = new double[runs];
        for (int i = -3; i < runs; i++) {
            long start = System.nanoTime();
            Tensor last = null;
            for (int r = 0; r < REPEATS; r++) {
                if (last != null) {
                    last.close();
                }
                last = op.get();
            }
            backend.synchronize();
            last.close();
            if (i >= 0) {
                ms[i] = (System.nanoTime() - start) / 1e6 / REPEATS;
            }
        }
        Arrays.sort(ms);
        return ms[runs / 2];
    }
}
