package dev.jdiffusion.benchmarks;

import java.util.ArrayList;
import java.util.List;

/** A quick FMA-peak calibration outside JMH: {@link FmaPeakBenchmark}'s kernel on every thread, best of five. */
final class FmaPeak {
    private FmaPeak() {}

    /** GFLOP/s on {@code threads} threads. */
    static double measure(int threads) throws InterruptedException {
        FmaPeakBenchmark kernel = new FmaPeakBenchmark();
        kernel.setup();
        for (int i = 0; i < 2000; i++) {
            kernel.fma(); // warm up: compiled by C2 before timing
        }
        int invocations = 20_000;
        double best = 0;
        for (int round = 0; round < 5; round++) {
            List<Thread> workers = new ArrayList<>();
            long start = System.nanoTime();
            for (int t = 0; t < threads; t++) {
                Thread worker = new Thread(() -> {
                    FmaPeakBenchmark own = new FmaPeakBenchmark();
                    own.setup();
                    float sink = 0;
                    for (int i = 0; i < invocations; i++) {
                        sink += own.fma();
                    }
                    if (sink == 42) {
                        System.out.print("");
                    }
                });
                workers.add(worker);
                worker.start();
            }
            for (Thread w : workers) {
                w.join();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            best = Math.max(best, threads * invocations * FmaPeakBenchmark.flopsPerInvocation() / seconds / 1e9);
        }
        return best;
    }
}
