package dev.jdiffusion.benchmarks;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.models.unet.UNet2DConditionModel;
import dev.jdiffusion.nn.TextConditioning;
import dev.jdiffusion.profile.ProfilingBackend;
import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.tensor.Tensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * How the guided 64x64 U-Net step scales from one thread to several, measured in one process: a step on one
 * thread and a step on all of them in turn, round after round, each against the FMA peak calibrated on its own
 * thread count just before and just after it (the higher of the two, as {@link ModelBenchmark} takes it).
 * Timed in separate processes, minutes apart, the two figures would also compare two states of a shared
 * machine, whose speed drifts by tens of percent; here each round's pair shares one.
 */
final class StepScaling {
    private StepScaling() {}

    static void run(Path folder, int threads, int rounds) {
        if (rounds < 1) {
            throw new IllegalArgumentException("--scaling needs at least one round (--runs), got " + rounds);
        }
        TorchGenerator random = new TorchGenerator(0);
        try (ProfilingBackend one = new ProfilingBackend(new CpuBackend(1));
                ProfilingBackend all = new ProfilingBackend(new CpuBackend(threads));
                UNet2DConditionModel unetOne = UNet2DConditionModel.load(folder.resolve("unet"), one);
                UNet2DConditionModel unetAll = UNet2DConditionModel.load(folder.resolve("unet"), all);
                Tensor contextOne = one.fromFloats(random.randn(2 * 77 * 768), 2, 77, 768);
                Tensor latentsOne = one.fromFloats(random.randn(4 * 64 * 64), 1, 4, 64, 64);
                Tensor contextAll = all.copy(contextOne);
                Tensor latentsAll = all.copy(latentsOne);
                TextConditioning textOne = new TextConditioning(contextOne);
                TextConditioning textAll = new TextConditioning(contextAll)) {
            Runnable stepOne = () -> unetOne.forward(latentsOne, new float[] {999}, textOne).close();
            Runnable stepAll = () -> unetAll.forward(latentsAll, new float[] {999}, textAll).close();
            stepOne.run(); // packs the weights, projects the text and compiles the kernels, as a first step does
            stepAll.run();
            one.reset();
            double flops = 0;
            System.out.printf(Locale.ROOT, "| round | 1 thread | of its peak | %d threads | of its peak | speed-up | "
                    + "FMA peaks | peak ratio |%n", threads);
            System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|");
            double[] speedUps = new double[rounds];
            double bestOne = Double.MAX_VALUE;
            double bestAll = Double.MAX_VALUE;
            for (int round = 0; round < rounds; round++) {
                ModelBenchmark.TimedRun runOne = ModelBenchmark.TimedRun.of(stepOne, 1);
                if (round == 0) {
                    flops = one.totalFlops(); // a later step's work: the text is projected once per picture
                }
                ModelBenchmark.TimedRun runAll = ModelBenchmark.TimedRun.of(stepAll, threads);
                speedUps[round] = runOne.seconds() / runAll.seconds();
                bestOne = Math.min(bestOne, runOne.seconds());
                bestAll = Math.min(bestAll, runAll.seconds());
                System.out.printf(Locale.ROOT,
                        "| %d | %.2f s | %.0f%% | %.2f s | %.0f%% | %.2fx | %.0f, %.0f | %.2fx |%n", round + 1,
                        runOne.seconds(), runOne.share(flops), runAll.seconds(), runAll.share(flops),
                        speedUps[round], runOne.peak(), runAll.peak(), runAll.peak() / runOne.peak());
            }
            Arrays.sort(speedUps);
            System.out.printf(Locale.ROOT, "%nguided U-Net step, 64x64 latent: %.1f GFLOP; median speed-up %.2fx over %d "
                    + "rounds; best times %.2f s (%.1f GFLOP/s) and %.2f s (%.1f GFLOP/s), %.2fx%n", flops / 1e9,
                    speedUps[rounds / 2], rounds, bestOne, flops / 1e9 / bestOne, bestAll, flops / 1e9 / bestAll,
                    bestOne / bestAll);
        }
    }
}
