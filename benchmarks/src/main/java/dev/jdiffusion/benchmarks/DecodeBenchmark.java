package dev.jdiffusion.benchmarks;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.models.vae.AutoencoderKL;
import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.tensor.Tensor;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The VAE decode alone at a given image size, in a fresh process so that the peak resident memory it
 * prints is the decode's (with the VAE's weights): whole up to 512x512, in blended tiles above.
 *
 * <pre>bin/java25 -cp benchmarks/target/benchmarks.jar dev.jdiffusion.benchmarks.DecodeBenchmark FOLDER [--size 1024] [--threads N] [--runs 2]</pre>
 */
public final class DecodeBenchmark {
    private DecodeBenchmark() {}

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: DecodeBenchmark FOLDER [--size N] [--threads N] [--runs N]");
            System.exit(2);
        }
        Path folder = Path.of(args[0]);
        int size = 1024;
        int threads = Runtime.getRuntime().availableProcessors();
        int runs = 2;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--size" -> size = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        int latent = size / 8;
        try (CpuBackend backend = new CpuBackend(threads);
                AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), backend);
                Tensor latents = backend.fromFloats(new TorchGenerator(0).randn(4 * latent * latent), 1, 4, latent, latent)) {
            for (int run = 1; run <= runs; run++) {
                long start = System.nanoTime();
                vae.decode(latents).close();
                System.out.printf(Locale.ROOT, "VAE decode %dx%d, run %d: %.1f s%s%n", size, size, run,
                        (System.nanoTime() - start) / 1e9, run == 1 ? " (with the JIT's warm-up)" : "");
            }
            System.out.printf(Locale.ROOT, "peak resident memory %.2f GB, activation pool peak %.2f GB%n",
                    ProcessMemory.peakResidentBytes() / 1e9, backend.peakActivationBytes() / 1e9);
        }
    }
}
