package dev.jdiffusion.benchmarks;

import java.util.Collection;
import java.util.List;
import java.util.Locale;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the FMA-peak calibration and the matrix-product benchmarks in one go and prints, for every
 * shape and thread count, GFLOP/s and the share of the peak calibrated in the same run.
 *
 * <p>Both sides of a share are best iterations: the peak is the best second of the FMA kernel, calibrated just
 * before and just after the products of its thread count (the higher of the two), and a product's share is
 * its best second against it, its mean second beside it. On a shared or virtual machine whose speed drifts over
 * minutes, a peak taken once at the start, against the products' means, understated the products by as much
 * as the drift.
 *
 * <p>Arguments (all optional): {@code --quick} for shorter iterations; {@code --shapes MxKxN,...}.
 */
public final class KernelReport {
    private KernelReport() {}

    public static void main(String[] args) throws RunnerException {
        boolean quick = false;
        String[] shapes = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--shapes" -> shapes = args[++i].split(",");
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + " (use --quick, --shapes MxKxN,...)");
            }
        }
        int cores = Runtime.getRuntime().availableProcessors();
        List<Integer> threadCounts = cores == 1 ? List.of(1) : List.of(1, cores);

        System.out.printf(Locale.ROOT, "machine: %d cores, %s %s, vector width %d floats%n", cores,
                System.getProperty("os.arch"), System.getProperty("java.vm.version"), FmaPeakBenchmark.S.length());
        System.out.println();
        System.out.println("| M x K x N | threads | ms (best) | GFLOP/s (best) | FMA peak | share of peak (best) | share (mean) |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|");
        for (int threads : threadCounts) {
            double peakBefore = peak(quick, threads);
            ChainedOptionsBuilder o = options(quick).include(MatMulBenchmark.class.getName() + ".linear")
                    .param("threads", Integer.toString(threads));
            if (shapes != null) {
                o.param("shape", shapes);
            }
            Collection<RunResult> products = run(o);
            double peak = Math.max(peakBefore, peak(quick, threads));
            for (RunResult r : products) {
                String shape = r.getParams().getParam("shape");
                double bestPerSecond = r.getPrimaryResult().getStatistics().getMax();
                double meanPerSecond = r.getPrimaryResult().getScore();
                double gflops = bestPerSecond * MatMulBenchmark.flops(shape) / 1e9;
                double meanGflops = meanPerSecond * MatMulBenchmark.flops(shape) / 1e9;
                System.out.printf(Locale.ROOT, "| %s | %d | %.2f | %.1f | %.1f | %.0f%% | %.0f%% |%n", shape, threads,
                        1000 / bestPerSecond, gflops, peak, 100 * gflops / peak, 100 * meanGflops / peak);
            }
        }
    }

    /** The FMA peak on {@code threads} threads in GFLOP/s: its best iteration (JMH sums the threads). */
    private static double peak(boolean quick, int threads) throws RunnerException {
        double opsPerSecond = best(run(options(quick).include(FmaPeakBenchmark.class.getName()).threads(threads)));
        return opsPerSecond * FmaPeakBenchmark.flopsPerInvocation() / 1e9;
    }

    private static ChainedOptionsBuilder options(boolean quick) {
        return new OptionsBuilder()
                .forks(1)
                .warmupIterations(quick ? 2 : 3)
                .warmupTime(TimeValue.seconds(quick ? 1 : 2))
                .measurementIterations(quick ? 3 : 5)
                .measurementTime(TimeValue.seconds(quick ? 1 : 2))
                .jvmArgsAppend("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED")
                .shouldDoGC(false)
                // Silent, a failed fork would leave only the table's header; failing stops the report and
                // carries the fork's exception out.
                .shouldFailOnError(true);
    }

    private static Collection<RunResult> run(ChainedOptionsBuilder options) throws RunnerException {
        return new Runner(options.verbosity(org.openjdk.jmh.runner.options.VerboseMode.SILENT).build()).run();
    }

    private static double best(Collection<RunResult> results) {
        return results.iterator().next().getPrimaryResult().getStatistics().getMax();
    }
}
