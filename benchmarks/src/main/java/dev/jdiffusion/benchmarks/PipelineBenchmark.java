package dev.jdiffusion.benchmarks;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.pipeline.Result;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.schedulers.Samplers;
import dev.jdiffusion.weights.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A whole txt2img on a model folder (the synthetic SD 1.5 one, with a {@code tokenizer/} copied in):
 * seconds to open, resident memory after loading, seconds per denoising step, how long the first step
 * (which pays for packing the U-Net and for the JIT's compiling) and the decode took, total, and the peak
 * resident memory of the run. With {@code --pictures N} it makes N pictures in the process and prints each
 * one's time, the later ones at the warm speed; {@code --keep-models} keeps the models' packed weights in memory
 * between them ({@link StableDiffusion.Loader#keepModelsInMemory}); {@code --weights-dtype F16} holds the weights
 * of a model stored in F32 in 16 bits ({@link StableDiffusion.Loader#weightsDType}).
 *
 * <pre>bin/java25 -cp benchmarks/target/benchmarks.jar dev.jdiffusion.benchmarks.PipelineBenchmark FOLDER [--size 512] [--steps 20] [--threads N] [--pictures N] [--keep-models] [--weights-dtype F16|BF16|F32]</pre>
 */
public final class PipelineBenchmark {
    private PipelineBenchmark() {}

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: PipelineBenchmark FOLDER [--size N] [--steps N] [--threads N] [--pictures N] [--keep-models]"
                    + " [--weights-dtype F16|BF16|F32] [--out FILE.png]");
            System.exit(2);
        }
        Path folder = Path.of(args[0]);
        int size = 512;
        int steps = 20;
        int threads = Runtime.getRuntime().availableProcessors();
        int pictures = 1;
        boolean keepModels = false;
        DType weightsDType = null;
        Path out = null;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--size" -> size = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--pictures" -> pictures = Integer.parseInt(args[++i]);
                case "--keep-models" -> keepModels = true;
                case "--weights-dtype" -> weightsDType = DType.valueOf(args[++i].toUpperCase(Locale.ROOT));
                case "--out" -> out = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (pictures < 1) {
            throw new IllegalArgumentException("--pictures must be >= 1, got " + pictures);
        }
        if (!Files.isDirectory(folder.resolve("tokenizer"))) {
            throw new IllegalArgumentException(folder + " has no tokenizer/: copy a CLIP tokenizer folder in");
        }
        long start = System.nanoTime();
        StableDiffusion.Loader loader = StableDiffusion.load(folder).keepModelsInMemory(keepModels);
        if (weightsDType != null) {
            loader.weightsDType(weightsDType);
        }
        try (CpuBackend backend = new CpuBackend(threads); StableDiffusion sd = loader.backend(backend).open()) {
            System.out.printf(Locale.ROOT, "opened in %.1f s, resident %.2f GB%n", (System.nanoTime() - start) / 1e9,
                    ProcessMemory.residentBytes() / 1e9);
            List<Long> stepEnds = new ArrayList<>();
            long[] peakBeforeDecode = new long[2];
            long begin = 0;
            long end = 0;
            Result result = null;
            for (int picture = 1; picture <= pictures; picture++) {
                stepEnds.clear();
                begin = System.nanoTime();
                result = sd.txt2img("a photo of a cat").negativePrompt("blurry").size(size, size).steps(steps)
                        .scheduler(Samplers.EULER_A).seed(42).onStep(p -> {
                            stepEnds.add(System.nanoTime());
                            peakBeforeDecode[0] = ProcessMemory.peakResidentBytes();
                            peakBeforeDecode[1] = backend.peakActivationBytes();
                        }).generate();
                end = System.nanoTime();
                if (pictures > 1) {
                    System.out.printf(Locale.ROOT, "picture %d: %.1f s, its first step done %.1f s in%n", picture,
                            (end - begin) / 1e9, (stepEnds.get(0) - begin) / 1e9);
                }
            }
            if (pictures > 1) {
                System.out.printf(Locale.ROOT, "the last picture (models %s between pictures):%n",
                        keepModels ? "kept in memory" : "freed");
            }
            double best = Double.MAX_VALUE;
            double sum = 0;
            for (int i = 1; i < stepEnds.size(); i++) {
                double s = (stepEnds.get(i) - stepEnds.get(i - 1)) / 1e9;
                best = Math.min(best, s);
                sum += s;
            }
            if (stepEnds.size() > 1) {
                System.out.printf(Locale.ROOT, "%dx%d, %d steps: %.2f s per step (best %.2f, the first step not counted)%n",
                        size, size, steps, sum / (stepEnds.size() - 1), best);
            }
            if (!stepEnds.isEmpty()) {
                // what a fresh process pays once: encoding the prompts, packing the U-Net, and the JIT
                // compiling the kernels while they run
                System.out.printf(Locale.ROOT, "first step done %.1f s into the generation; decode %.1f s%n",
                        (stepEnds.get(0) - begin) / 1e9, (end - stepEnds.get(stepEnds.size() - 1)) / 1e9);
            }
            System.out.printf(Locale.ROOT, "total %.1f s (text, steps, decode)%n", (end - begin) / 1e9);
            System.out.printf(Locale.ROOT, "peak resident memory %.2f GB (%.2f GB until the decode)%n",
                    ProcessMemory.peakResidentBytes() / 1e9, peakBeforeDecode[0] / 1e9);
            System.out.printf(Locale.ROOT, "peak activation memory %.2f GB (%.2f GB until the decode); Java heap %.2f GB%n",
                    backend.peakActivationBytes() / 1e9, peakBeforeDecode[1] / 1e9, Runtime.getRuntime().totalMemory() / 1e9);
            if (out != null) {
                result.save(out);
            }
        }
    }
}
