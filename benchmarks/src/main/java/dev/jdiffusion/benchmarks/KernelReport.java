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
        double[] peak = new double[cores + 1];
        for (int threads : threadCounts) {
            // The peak is the best iteration: the machine can do at least that. JMH sums the threads.
            double opsPerSecond = best(run(options(quick).include(FmaPeakBenchmark.class.getName()).threads(threads)));
            peak[threads] = opsPerSecond * FmaPeakBenchmark.flopsPerInvocation() / 1e9;
            System.out.printf(Locale.ROOT, "FMA peak, %d thread(s): %.1f GFLOP/s%n", threads, peak[threads]);
        }

        System.out.println();
        System.out.println("| M x K x N | threads | ms | GFLOP/s | share of peak |");
        System.out.println("|---|---:|---:|---:|---:|");
        for (int threads : threadCounts) {
            ChainedOptionsBuilder o = options(quick).include(MatMulBenchmark.class.getName() + ".linear")
                    .param("threads", Integer.toString(threads));
            if (shapes != null) {
                o.param("shape", shapes);
            }
            for (RunResult r : run(o)) {
                String shape = r.getParams().getParam("shape");
                double perSecond = r.getPrimaryResult().getScore();
                double gflops = perSecond * MatMulBenchmark.flops(shape) / 1e9;
                System.out.printf(Locale.ROOT, "| %s | %d | %.2f | %.1f | %.0f%% |%n", shape, threads, 1000 / perSecond,
                        gflops, 100 * gflops / peak[threads]);
            }
        }
    }

    private static ChainedOptionsBuilder options(boolean quick) {
        return new OptionsBuilder()
                .forks(1)
                .warmupIterations(quick ? 2 : 3)
                .warmupTime(TimeValue.seconds(quick ? 1 : 2))
                .measurementIterations(quick ? 3 : 5)
                .measurementTime(TimeValue.seconds(quick ? 1 : 2))
                .jvmArgsAppend("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED")
                .shouldDoGC(false);
    }

    private static Collection<RunResult> run(ChainedOptionsBuilder options) throws RunnerException {
        return new Runner(options.verbosity(org.openjdk.jmh.runner.options.VerboseMode.SILENT).build()).run();
    }

    private static double best(Collection<RunResult> results) {
        return results.iterator().next().getPrimaryResult().getStatistics().getMax();
    }
}
