package dev.jdiffusion.benchmarks;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.models.clip.ClipTextModel;
import dev.jdiffusion.models.synthetic.SyntheticStableDiffusion;
import dev.jdiffusion.models.unet.UNet2DConditionModel;
import dev.jdiffusion.models.vae.AutoencoderKL;
import dev.jdiffusion.nn.TextConditioning;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.profile.ProfilingBackend;
import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.schedulers.Samplers;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.safetensors.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The end-to-end figures of Stable Diffusion at full size, on synthetic SD 1.5-shaped weights (written first
 * if the folder does not hold them): CLIP on a guided batch of two prompts, one guided U-Net step (one latent,
 * two texts, as a guided generation runs it) at 32x32 and 64x64 latents, the VAE decode of a 64x64 latent to
 * 512x512, and a whole 512x512 txt2img (when the folder has a {@code tokenizer/}). Every figure prints its best
 * time, its work (the products, convolutions and attention counted op by op), GFLOP/s, the FMA peak calibrated
 * just before and just after it (the higher of the two), the share of that peak, and its own peak resident
 * memory. The peak is taken around each figure rather than once per run because a shared or virtual machine's
 * speed drifts over minutes; the higher calibration keeps the shares on the cautious side.
 *
 * <pre>bin/java25 -cp benchmarks/target/benchmarks.jar dev.jdiffusion.benchmarks.ModelBenchmark [FOLDER] [--threads N] [--runs N] [--steps N] [--f32] [--profile | --scaling]</pre>
 *
 * <p>A figure runs {@code --runs} times (2; the first packs the weights), and a short one more, until its runs
 * after the first have taken 5 s. {@code --steps} sets the txt2img's steps (20; 0 leaves it out), which runs
 * once; {@code --f32} writes F32 synthetic weights where there are none yet. {@code --profile} instead times
 * one guided 64x64 U-Net step and one 512x512 VAE
 * decode per kind of op, and the fifteen shapes of product, convolution and attention that took longest (the
 * fastest of {@code --runs} passes each), after the first pass's time per kind of op.
 * {@code --scaling} instead times the guided 64x64 U-Net step on one thread and on {@code --threads} in turn,
 * {@code --runs} rounds in one process, so that the two are compared in the same state of the machine.
 */
public final class ModelBenchmark {
    private final ProfilingBackend backend;
    private final int threads;
    private final int runs;

    private ModelBenchmark(ProfilingBackend backend, int threads, int runs) {
        this.backend = backend;
        this.threads = threads;
        this.runs = runs;
    }

    public static void main(String[] args) throws Exception {
        Path folder = Path.of(System.getProperty("java.io.tmpdir"), "jdiffusion-sd15-synthetic");
        int threads = CpuBackend.defaultThreads();
        int runs = 2;
        int steps = 20;
        boolean profile = false;
        boolean scaling = false;
        DType dtype = DType.F16;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--f32" -> dtype = DType.F32;
                case "--profile" -> profile = true;
                case "--scaling" -> scaling = true;
                default -> folder = Path.of(args[i]);
            }
        }
        if (!Files.exists(folder.resolve("unet").resolve("config.json"))) {
            System.out.println("writing synthetic SD 1.5 weights (" + dtype + ") to " + folder);
            SyntheticStableDiffusion.writeSd15(folder, 0, dtype);
        }
        System.out.printf(Locale.ROOT, "model %s (%s weights), %d of %d cores, best of %d runs (more for figures "
                + "under %.0f s)%n%n", folder, storedType(folder), threads, Runtime.getRuntime().availableProcessors(), runs,
                MIN_SECONDS_AFTER_FIRST);
        if (profile) {
            profileUNetStep(folder, threads, runs);
            return;
        }
        if (scaling) {
            StepScaling.run(folder, threads, runs);
            return;
        }
        System.out.println("| figure | seconds | GFLOP | GFLOP/s | FMA peak | of peak | peak resident |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|");
        try (ProfilingBackend backend = new ProfilingBackend(new CpuBackend(threads))) {
            new ModelBenchmark(backend, threads, runs).run(folder, steps);
        }
    }

    private void run(Path folder, int steps) {
        TorchGenerator random = new TorchGenerator(0);
        try (ClipTextModel clip = ClipTextModel.load(folder.resolve("text_encoder"), backend)) {
            int[][] ids = new int[2][77];
            for (int[] row : ids) {
                row[0] = 49406;
                java.util.Arrays.fill(row, 1, 77, 49407);
            }
            figure("CLIP text encoder, batch 2", runs, () -> clip.encode(ids, 0).close());
        }
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(folder.resolve("unet"), backend);
                Tensor context = backend.fromFloats(random.randn(2 * 77 * 768), 2, 77, 768)) {
            for (int size : new int[] {32, 64}) {
                // one latent for the two texts, as a guided generation steps it
                // the first run packs the weights and projects the text, as the first step of a picture does
                try (Tensor latents = backend.fromFloats(random.randn(4 * size * size), 1, 4, size, size);
                        TextConditioning text = new TextConditioning(context)) {
                    unet.unloadWeights();
                    figure("guided U-Net step, " + size + "x" + size + " latent", runs,
                            () -> unet.forward(latents, new float[] {999}, text).close());
                }
            }
        }
        try (AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), backend);
                Tensor latents = backend.fromFloats(random.randn(4 * 64 * 64), 1, 4, 64, 64)) {
            figure("VAE decode, 64x64 latent to 512x512", runs, () -> vae.decode(latents).close());
        }
        if (steps > 0 && Files.isDirectory(folder.resolve("tokenizer"))) {
            try (StableDiffusion sd = StableDiffusion.load(folder).backend(backend).open()) {
                figure("txt2img 512x512, " + steps + " steps, guided", 1, 0, () -> sd.txt2img("a photo of a cat")
                        .negativePrompt("blurry").size(512, 512).steps(steps).scheduler(Samplers.EULER_A).seed(42).generate());
            }
        } else if (steps > 0) {
            System.out.println("(txt2img left out: " + folder + " has no tokenizer/; copy a CLIP tokenizer folder in)");
        }
    }

    /**
     * Seconds a figure keeps repeating after its first run, whatever {@code --runs} says, so that a short one (CLIP
     * takes a tenth of a second) is timed compiled rather than while the JIT is still at work on it.
     */
    private static final double MIN_SECONDS_AFTER_FIRST = 5;
    /** Most runs of one figure. */
    private static final int MAX_RUNS = 50;

    /**
     * Runs {@code work} {@code runs} times, more for a short figure ({@link #MIN_SECONDS_AFTER_FIRST}), and prints
     * one row of the table: the best run, and the peak of them all.
     */
    private void figure(String what, int runs, Runnable work) {
        figure(what, runs, MIN_SECONDS_AFTER_FIRST, work);
    }

    /** As above, repeating until the runs after the first have taken {@code minSecondsAfterFirst} in all. */
    private void figure(String what, int runs, double minSecondsAfterFirst, Runnable work) {
        backend.releaseCachedMemory(); // the activation buffers of the figure before belong to that figure
        double peakBefore = measurePeak(threads);
        boolean ownPeak = ProcessMemory.resetPeak();
        double best = Double.MAX_VALUE;
        double first = 0;
        double afterFirst = 0;
        double flops = 0;
        int done = 0;
        while (done < runs || (done < MAX_RUNS && afterFirst < minSecondsAfterFirst)) {
            backend.reset();
            long start = System.nanoTime();
            work.run();
            double seconds = (System.nanoTime() - start) / 1e9;
            if (done == 0) {
                first = seconds;
            } else {
                afterFirst += seconds;
            }
            done++;
            best = Math.min(best, seconds);
            flops = backend.totalFlops();
        }
        double residentBytes = ProcessMemory.peakResidentBytes();
        double peakGflops = Math.max(peakBefore, measurePeak(threads));
        double rate = flops / 1e9 / best;
        System.out.printf(Locale.ROOT, "| %s | %.3f | %.1f | %.1f | %.0f | %.0f%% | %.2f GB%s |%n", what, best,
                flops / 1e9, rate, peakGflops, 100 * rate / peakGflops, residentBytes / 1e9, ownPeak ? "" : " (process)");
        if (done > 1 && first - best > 0.05 * best) {
            System.out.printf(Locale.ROOT, "|   first run (packs the weights) | %.3f | | | | | |%n", first);
        }
    }

    /** The stored type of the U-Net's first convolution, for the header. */
    private static DType storedType(Path folder) {
        Path unet = folder.resolve("unet");
        for (String name : new String[] {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"}) {
            if (Files.exists(unet.resolve(name))) {
                try (TensorSource source = Safetensors.open(unet.resolve(name))) {
                    return source.get("conv_in.weight").dtype();
                }
            }
        }
        return null;
    }

    /** The FMA peak on {@code threads} threads now, in GFLOP/s. */
    private static double measurePeak(int threads) {
        try {
            return FmaPeak.measure(threads);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while calibrating the FMA peak", e);
        }
    }

    /** Rows of the by-shape table of a profile: the shapes that took longest. */
    private static final int SHAPE_ROWS = 15;

    /** One guided 64x64 U-Net step and one 512x512 VAE decode, per kind of op and per shape: the fastest of {@code runs}. */
    private static void profileUNetStep(Path folder, int threads, int runs) {
        try (ProfilingBackend backend = new ProfilingBackend(new CpuBackend(threads));
                UNet2DConditionModel unet = UNet2DConditionModel.load(folder.resolve("unet"), backend)) {
            TorchGenerator random = new TorchGenerator(0);
            try (Tensor context = backend.fromFloats(random.randn(2 * 77 * 768), 2, 77, 768);
                    Tensor latents = backend.fromFloats(random.randn(4 * 64 * 64), 1, 4, 64, 64);
                    TextConditioning text = new TextConditioning(context)) {
                profilePass("guided U-Net step, 64x64", backend, threads, runs,
                        () -> unet.forward(latents, new float[] {999}, text).close());
            }
        }
        try (ProfilingBackend backend = new ProfilingBackend(new CpuBackend(threads));
                AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), backend);
                Tensor latents = backend.fromFloats(new TorchGenerator(1).randn(4 * 64 * 64), 1, 4, 64, 64)) {
            System.out.println();
            profilePass("VAE decode, 64x64 latent to 512x512", backend, threads, runs, () -> vae.decode(latents).close());
        }
    }

    /**
     * Runs {@code pass} once to warm up (and pack the weights), then {@code runs} times measured, and prints the
     * fastest run's time and per-op tables against the FMA peak calibrated just before and just after it (the
     * higher of the two). A single pass on a machine whose speed drifts can land in a slow spell; the fastest of a
     * few is the profile the other figures' best runs compare with. The warm-up pass's own per-op times come
     * first: what a process pays once, while it packs the weights and the JIT compiles the kernels.
     */
    private static void profilePass(String what, ProfilingBackend backend, int threads, int runs, Runnable pass) {
        backend.reset();
        long start = System.nanoTime();
        pass.run();
        System.out.printf(Locale.ROOT, "%s, first pass: %.3f s (packing the weights, the JIT compiling)%n%n", what,
                (System.nanoTime() - start) / 1e9);
        System.out.print(backend.report(0));
        System.out.println();
        int passes = Math.max(1, runs);
        TimedRun fastest = null;
        String byOp = null;
        String byShape = null;
        for (int r = 0; r < passes; r++) {
            backend.reset();
            TimedRun run = TimedRun.of(pass, threads);
            if (fastest == null || run.seconds() < fastest.seconds()) {
                fastest = run;
                byOp = backend.report(run.peak());
                byShape = backend.reportByShape(run.peak(), SHAPE_ROWS);
            }
        }
        System.out.printf(Locale.ROOT, "%s: %.3f s (fastest of %d), FMA peak %.1f GFLOP/s around it%n%n", what,
                fastest.seconds(), passes, fastest.peak());
        System.out.print(byOp);
        System.out.println();
        System.out.print(byShape);
    }

    /** One timed run, and the FMA peak on its thread count calibrated just before and just after it (the higher). */
    record TimedRun(double seconds, double peak) {
        static TimedRun of(Runnable work, int threads) {
            double peakBefore = measurePeak(threads);
            long start = System.nanoTime();
            work.run();
            double seconds = (System.nanoTime() - start) / 1e9;
            return new TimedRun(seconds, Math.max(peakBefore, measurePeak(threads)));
        }

        /** The share of the peak, in percent, that {@code flops} done in this run reach. */
        double share(double flops) {
            return 100 * flops / 1e9 / seconds / peak;
        }
    }
}
