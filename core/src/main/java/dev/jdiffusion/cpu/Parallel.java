package dev.jdiffusion.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The CPU backend's one thread pool. {@link #forEach} spreads independent tasks over the threads,
 * the calling thread included, handing them out one at a time so uneven tasks still balance.
 */
public final class Parallel implements AutoCloseable {
    private final int threads;
    private final ForkJoinPool pool;

    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads - 1);
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code body.accept(i)} for every {@code i} in {@code [0, tasks)} and returns when all are done. */
    public void forEach(int tasks, IntConsumer body) {
        if (tasks <= 0) {
            return;
        }
        if (pool == null || tasks == 1) {
            for (int i = 0; i < tasks; i++) {
                body.accept(i);
            }
            return;
        }
        AtomicInteger next = new AtomicInteger();
        Runnable drain = () -> {
            for (int i; (i = next.getAndIncrement()) < tasks; ) {
                body.accept(i);
            }
        };
        int helpers = Math.min(threads, tasks) - 1;
        ForkJoinTask<?>[] submitted = new ForkJoinTask<?>[helpers];
        for (int h = 0; h < helpers; h++) {
            submitted[h] = pool.submit(drain);
        }
        RuntimeException failure = null;
        try {
            drain.run();
        } catch (RuntimeException e) {
            failure = e;
            next.set(tasks);
        }
        for (ForkJoinTask<?> task : submitted) {
            try {
                task.join();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** Splits {@code [0, n)} into about {@code chunks} contiguous ranges and runs {@code body(from, to)} on each. */
    public void forRanges(long n, long minChunk, RangeBody body) {
        long chunk = Math.max(minChunk, (n + threads * 4L - 1) / (threads * 4L));
        int count = (int) ((n + chunk - 1) / chunk);
        forEach(count, c -> body.run(c * chunk, Math.min(n, (c + 1) * chunk)));
    }

    /** A contiguous range of work. */
    @FunctionalInterface
    public interface RangeBody {
        void run(long from, long to);
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
