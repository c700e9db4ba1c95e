package dev.jdiffusion.benchmarks;

import dev.jdiffusion.cuda.CudaBackend;
import dev.jdiffusion.models.clip.ClipTextModel;
import dev.jdiffusion.models.unet.UNet2DConditionModel;
import dev.jdiffusion.models.vae.AutoencoderKL;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.profile.ProfilingBackend;
import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.schedulers.Samplers;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Backends;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The models on a GPU through the CUDA backend: CLIP (batch 2), one guided U-Net step (batch 2) at 32x32 and
 * 64x64 latents, the VAE decode to 512x512, and a whole 512x512 txt2img, each the median of {@code --runs} after
 * warm-up runs, with the most device memory the backend held. Ops are queued without waiting, so each figure
 * ends by reading its result back to the host, which waits for the GPU. Weights are held as {@code --weights-dtype}
 * (F16 by default: the products run on the tensor cores; F32 gives single-precision products). With
 * {@code --profile}, a 64x64 step and the decode run once more op by op, each op waited for, and the time per op
 * is printed ({@link ProfilingBackend}).
 *
 * <pre>java -cp benchmarks.jar dev.jdiffusion.benchmarks.GpuBenchmark FOLDER [--runs 20] [--steps 25] [--weights-dtype F16|BF16|F32] [--profile]</pre>
 */
public final class GpuBenchmark {
    /** The multiply-adds of one guided SD 1.5 U-Net step (batch 2) at 64x64 latents, counted op by op on the CPU. */
    private static final double STEP_64_GFLOP = 2 * 888.9;

    private final Backend backend;
    private final int runs;

    private GpuBenchmark(Backend backend, int runs) {
        this.backend = backend;
        this.runs = runs;
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: GpuBenchmark FOLDER [--runs N] [--steps N] [--weights-dtype F16|BF16|F32]");
            System.exit(2);
        }
        Path folder = Path.of(args[0]);
        int runs = 20;
        int steps = 25;
        DType type = DType.F16;
        boolean profile = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--weights-dtype" -> type = DType.valueOf(args[++i].toUpperCase(Locale.ROOT));
                case "--profile" -> profile = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        try (Backend backend = Backends.open(Device.cuda(0), 1)) {
            System.out.println("GPU: " + (backend instanceof CudaBackend cuda ? cuda.gpuName() : backend.device())
                    + ", weights held as " + type);
            System.out.println("| figure | ms (median) | per second | TFLOP/s | device memory peak |");
            System.out.println("|---|---:|---:|---:|---:|");
            new GpuBenchmark(backend, runs).models(folder, type);
            if (profile) {
                profile(folder, type, backend);
            }
        }
        if (steps > 0 && Files.isDirectory(folder.resolve("tokenizer"))) {
            try (StableDiffusion sd = StableDiffusion.load(folder).device(Device.cuda(0)).weightsDType(type).open()) {
                for (int picture = 0; picture < 3; picture++) {
                    long start = System.nanoTime();
                    sd.txt2img("a photo of a cat").negativePrompt("blurry").size(512, 512).steps(steps)
                            .scheduler(Samplers.EULER_A).seed(42).generate();
                    double seconds = (System.nanoTime() - start) / 1e9;
                    System.out.printf(Locale.ROOT, "| txt2img 512x512, %d steps (picture %d of the process) | %.0f | %.2f images, %.1f steps | | |%n",
                            steps, picture + 1, seconds * 1e3, 1 / seconds, steps / seconds);
                }
            }
        }
    }

    private void models(Path folder, DType type) {
        TorchGenerator random = new TorchGenerator(0);
        try (ClipTextModel clip = ClipTextModel.load(folder.resolve("text_encoder"), null, type, backend)) {
            int[][] ids = new int[2][77];
            for (int[] row : ids) {
                row[0] = 49406;
                Arrays.fill(row, 1, 77, 49407);
            }
            figure("CLIP text encoder, batch 2", 0, () -> read(clip.encode(ids, 0)));
        }
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(folder.resolve("unet"), null, type, backend);
                Tensor context = backend.fromFloats(random.randn(2 * 77 * 768), 2, 77, 768)) {
            for (int size : new int[] {32, 64}) {
                try (Tensor latents = backend.fromFloats(random.randn(2 * 4 * size * size), 2, 4, size, size)) {
                    figure("U-Net step, batch 2, " + size + "x" + size + " latent", size == 64 ? STEP_64_GFLOP : 0,
                            () -> read(unet.forward(latents, new float[] {999}, context)));
                    hostShare("U-Net step, batch 2, " + size + "x" + size,
                            () -> unet.forward(latents, new float[] {999}, context));
                }
            }
        }
        try (AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), null, type, backend);
                Tensor latents = backend.fromFloats(random.randn(4 * 64 * 64), 1, 4, 64, 64)) {
            figure("VAE decode, 64x64 latent to 512x512", 0, () -> read(vae.decode(latents)));
        }
    }

    /** One 64x64 step and one decode op by op; shares of the H100's dense F16 tensor-core peak, 989 TFLOP/s. */
    private static void profile(Path folder, DType type, Backend gpu) {
        double peakGflops = 989e3;
        TorchGenerator random = new TorchGenerator(0);
        ProfilingBackend backend = new ProfilingBackend(gpu);
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(folder.resolve("unet"), null, type, backend);
                Tensor context = backend.fromFloats(random.randn(2 * 77 * 768), 2, 77, 768);
                Tensor latents = backend.fromFloats(random.randn(2 * 4 * 64 * 64), 2, 4, 64, 64)) {
            read(unet.forward(latents, new float[] {999}, context));
            backend.reset();
            read(unet.forward(latents, new float[] {999}, context));
            System.out.println("\nU-Net step, batch 2, 64x64, op by op:\n" + backend.report(peakGflops));
            System.out.println(backend.reportByShape(peakGflops, 12));
        }
        try (AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), null, type, backend);
                Tensor latents = backend.fromFloats(random.randn(4 * 64 * 64), 1, 4, 64, 64)) {
            read(vae.decode(latents));
            backend.reset();
            read(vae.decode(latents));
            System.out.println("\nVAE decode to 512x512, op by op:\n" + backend.report(peakGflops));
            System.out.println(backend.reportByShape(peakGflops, 12));
        }
    }

    /**
     * How long the host takes to queue the work against how long the GPU takes to finish it: where the two are
     * close, the launches, not the GPU, set the pace.
     */
    private void hostShare(String name, Supplier<Tensor> queue) {
        double[] queued = new double[runs];
        double[] done = new double[runs];
        for (int i = 0; i < runs; i++) {
            backend.synchronize();
            long start = System.nanoTime();
            Tensor result = queue.get();
            queued[i] = (System.nanoTime() - start) / 1e6;
            read(result);
            done[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(queued);
        Arrays.sort(done);
        System.out.printf(Locale.ROOT, "| %s: queued by the host in | %.2f | (done in %.2f) | | |%n", name,
                queued[runs / 2], done[runs / 2]);
    }

    /** Reads a result back (which waits for the GPU to finish it) and frees it. */
    private static void read(Tensor result) {
        try (result) {
            result.toFloatArray();
        }
    }

    private void figure(String name, double gflop, Runnable run) {
        for (int i = 0; i < 3; i++) {
            run.run();
        }
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            long start = System.nanoTime();
            run.run();
            ms[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(ms);
        double median = ms[runs / 2];
        long peak = backend instanceof CudaBackend cuda ? cuda.peakDeviceBytes() : 0;
        System.out.printf(Locale.ROOT, "| %s | %.2f | %.1f | %s | %.2f GB |%n", name, median, 1e3 / median,
                gflop > 0 ? String.format(Locale.ROOT, "%.0f", gflop / median) : "", peak / 1e9);
    }
}
