package dev.jdiffusion.benchmarks;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.models.clip.ClipTextModel;
import dev.jdiffusion.models.synthetic.SyntheticStableDiffusion;
import dev.jdiffusion.models.unet.UNet2DConditionModel;
import dev.jdiffusion.models.vae.AutoencoderKL;
import dev.jdiffusion.profile.ProfilingBackend;
import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Times the three networks of Stable Diffusion at full size on synthetic SD 1.5-shaped weights (written
 * first if the folder does not hold them): CLIP on a guided batch of two prompts, one guided U-Net step
 * (batch 2) at 32x32 and 64x64 latents, and the VAE decode of a 64x64 latent to 512x512. Prints
 * seconds, GFLOP/s and resident memory.
 *
 * <pre>bin/java25 -cp benchmarks/target/benchmarks.jar dev.jdiffusion.benchmarks.ModelBenchmark [FOLDER] [--threads N] [--runs N] [--f32] [--profile]</pre>
 *
 * <p>{@code --profile} instead times one guided 64x64 U-Net step and one 512x512 VAE decode per kind of op
 * (time, GFLOP/s, share of the FMA peak calibrated in the same run).
 */
public final class ModelBenchmark {
    /** One guided SD 1.5 U-Net step (batch 2, 64x64 latent): 888.9 G multiply-accumulates. */
    private static final double UNET_STEP_GFLOP = 2 * 888.9;

    private ModelBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path folder = Path.of(System.getProperty("java.io.tmpdir"), "jdiffusion-sd15-synthetic");
        int threads = CpuBackend.defaultThreads();
        int runs = 3;
        boolean profile = false;
        DType dtype = DType.F16;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--f32" -> dtype = DType.F32;
                case "--profile" -> profile = true;
                default -> folder = Path.of(args[i]);
            }
        }
        if (!Files.exists(folder.resolve("unet").resolve("config.json"))) {
            System.out.println("writing synthetic SD 1.5 weights (" + dtype + ") to " + folder);
            SyntheticStableDiffusion.writeSd15(folder, 0, dtype);
        }
        System.out.printf(Locale.ROOT, "model %s, %d threads, best of %d runs%n", folder, threads, runs);
        if (profile) {
            profileUNetStep(folder, threads);
            return;
        }
        try (CpuBackend backend = new CpuBackend(threads)) {
            TorchGenerator random = new TorchGenerator(0);
            try (ClipTextModel clip = ClipTextModel.load(folder.resolve("text_encoder"), backend)) {
                int[][] ids = new int[2][77];
                for (int[] row : ids) {
                    row[0] = 49406;
                    java.util.Arrays.fill(row, 1, 77, 49407);
                }
                report("CLIP text encoder, batch 2", runs, -1, () -> clip.encode(ids, 0).close());
            }
            try (UNet2DConditionModel unet = UNet2DConditionModel.load(folder.resolve("unet"), backend);
                    Tensor context = backend.fromFloats(random.randn(2 * 77 * 768), 2, 77, 768)) {
                System.out.printf(Locale.ROOT, "U-Net loaded: resident %.2f GB%n", ProcessMemory.residentBytes() / 1e9);
                for (int size : new int[] {32, 64}) {
                    try (Tensor latents = backend.fromFloats(random.randn(2 * 4 * size * size), 2, 4, size, size)) {
                        report("U-Net step, batch 2, " + size + "x" + size + " latent", runs, size == 64 ? UNET_STEP_GFLOP : -1,
                                () -> unet.forward(latents, new float[] {999}, context).close());
                    }
                }
            }
            try (AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), backend);
                    Tensor latents = backend.fromFloats(random.randn(4 * 64 * 64), 1, 4, 64, 64)) {
                report("VAE decode, 64x64 latent to 512x512", runs, -1, () -> vae.decode(latents).close());
            }
            System.out.printf(Locale.ROOT, "peak resident memory %.2f GB, activation pool peak %.2f GB%n",
                    ProcessMemory.peakResidentBytes() / 1e9, backend.peakActivationBytes() / 1e9);
        }
    }

    /** One guided 64x64 U-Net step and one 512x512 VAE decode, per kind of op, against the FMA peak of the same run. */
    private static void profileUNetStep(Path folder, int threads) throws InterruptedException {
        double peak = FmaPeak.measure(threads);
        System.out.printf(Locale.ROOT, "FMA peak on %d threads: %.1f GFLOP/s%n", threads, peak);
        try (ProfilingBackend backend = new ProfilingBackend(new CpuBackend(threads));
                UNet2DConditionModel unet = UNet2DConditionModel.load(folder.resolve("unet"), backend)) {
            TorchGenerator random = new TorchGenerator(0);
            try (Tensor context = backend.fromFloats(random.randn(2 * 77 * 768), 2, 77, 768);
                    Tensor latents = backend.fromFloats(random.randn(2 * 4 * 64 * 64), 2, 4, 64, 64)) {
                unet.forward(latents, new float[] {999}, context).close(); // warm up
                backend.reset();
                long start = System.nanoTime();
                unet.forward(latents, new float[] {999}, context).close();
                System.out.printf(Locale.ROOT, "U-Net step, batch 2, 64x64: %.3f s%n%n", (System.nanoTime() - start) / 1e9);
                System.out.print(backend.report(peak));
            }
        }
        try (ProfilingBackend backend = new ProfilingBackend(new CpuBackend(threads));
                AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), backend);
                Tensor latents = backend.fromFloats(new TorchGenerator(1).randn(4 * 64 * 64), 1, 4, 64, 64)) {
            vae.decode(latents).close(); // warm up
            backend.reset();
            long start = System.nanoTime();
            vae.decode(latents).close();
            System.out.printf(Locale.ROOT, "%nVAE decode, 64x64 latent to 512x512: %.3f s%n%n", (System.nanoTime() - start) / 1e9);
            System.out.print(backend.report(peak));
        }
    }

    private static void report(String what, int runs, double gflop, Runnable work) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < runs; i++) {
            long start = System.nanoTime();
            work.run();
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
        }
        String rate = gflop > 0 ? String.format(Locale.ROOT, ", %.0f GFLOP/s", gflop / best) : "";
        System.out.printf(Locale.ROOT, "%-42s %8.3f s%s (resident %.2f GB)%n", what, best, rate,
                ProcessMemory.residentBytes() / 1e9);
    }
}
