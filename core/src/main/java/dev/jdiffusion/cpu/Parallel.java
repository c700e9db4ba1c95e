package dev.jdiffusion.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;

/**
 * The CPU backend's threads: the calling thread and {@code threads - 1} helpers. {@link #forEach} spreads
 * independent tasks over them, handing the tasks out one at a time so uneven tasks still balance.
 *
 * <p>A helper that has run out of work spins for a short while ({@link #SPIN_NANOS}) before it sleeps, and so
 * does the caller waiting for the helpers to finish. A U-Net step is hundreds of parallel operations back to
 * back, many of them a millisecond or less, and waking a sleeping thread took 60 to 85 microseconds on a
 * virtual machine (the kernel's wake-up, then the hypervisor's for an idle virtual core): a pool that parks
 * its threads between operations pays that at the start of every operation, and again at its end whenever the
 * helper finishes last.
 *
 * <p>One operation runs at a time: a call made while another is running (from a task, or from a second
 * thread sharing the backend) runs its tasks on its own thread. {@link #close()} ends the helpers; so does the
 * collection of a pool that was never closed (the helpers do not hold the pool itself).
 */
public final class Parallel implements AutoCloseable {
    /**
     * How long an idle helper, or a caller waiting for its helpers, spins before it parks. A helper also waits
     * out the caller's last task, which can take milliseconds: 0.2 ms kept little of the gain, 5 ms added none.
     */
    private static final long SPIN_NANOS = 1_000_000;

    /** Stops the helpers of pools collected unclosed. */
    private static final Cleaner CLEANER = Cleaner.create();

    private final int threads;
    private final Crew crew;
    private final Cleaner.Cleanable stopHelpers;
    private final AtomicBoolean busy = new AtomicBoolean();

    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.crew = new Crew(threads - 1);
        this.stopHelpers = CLEANER.register(this, crew::stop);
        for (Helper helper : crew.helpers) {
            helper.start();
        }
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code body.accept(i)} for every {@code i} in {@code [0, tasks)} and returns when all are done. */
    public void forEach(int tasks, IntConsumer body) {
        if (tasks <= 0) {
            return;
        }
        Helper[] helpers = crew.helpers;
        if (helpers.length == 0 || tasks == 1 || !busy.compareAndSet(false, true)) {
            for (int i = 0; i < tasks; i++) {
                body.accept(i);
            }
            return;
        }
        try {
            if (crew.stopped) {
                throw new IllegalStateException("the thread pool is closed");
            }
            Job job = new Job(tasks, body, Math.min(helpers.length, tasks - 1));
            for (int h = 0; h < job.helpers; h++) {
                helpers[h].offer(job);
            }
            job.drain();
            job.awaitHelpers();
            job.rethrowFailure();
        } finally {
            busy.set(false);
        }
    }

    /**
     * Whether every helper may read {@code segment}: not one confined to the thread that allocated it (the
     * caller's own work on such memory must stay on the caller's thread).
     */
    public boolean helpersCanAccess(MemorySegment segment) {
        for (Helper helper : crew.helpers) {
            if (!segment.isAccessibleBy(helper)) {
                return false;
            }
        }
        return true;
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
        stopHelpers.clean();
    }

    /** Spins while {@code waiting} holds, for {@link #SPIN_NANOS}, then parks until it no longer does. */
    private static void await(BooleanSupplier waiting) {
        long start = System.nanoTime();
        while (waiting.getAsBoolean()) {
            if (System.nanoTime() - start < SPIN_NANOS) {
                Thread.onSpinWait();
            } else {
                LockSupport.park();
            }
        }
    }

    /** One call of {@link #forEach}: its tasks, the next one to hand out, and the helpers still at work. */
    private static final class Job {
        final int tasks;
        final IntConsumer body;
        final int helpers;
        final Thread caller = Thread.currentThread();
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger helpersAtWork;
        volatile Throwable failure;

        Job(int tasks, IntConsumer body, int helpers) {
            this.tasks = tasks;
            this.body = body;
            this.helpers = helpers;
            this.helpersAtWork = new AtomicInteger(helpers);
        }

        /** Runs tasks until none are left; a failure stops the handing out and is kept for the caller. */
        void drain() {
            try {
                for (int i; (i = next.getAndIncrement()) < tasks; ) {
                    body.accept(i);
                }
            } catch (Throwable e) {
                if (failure == null) {
                    failure = e;
                }
                next.set(tasks);
            }
        }

        void helperDone() {
            if (helpersAtWork.decrementAndGet() == 0) {
                LockSupport.unpark(caller);
            }
        }

        void awaitHelpers() {
            await(() -> helpersAtWork.get() > 0);
        }

        void rethrowFailure() {
            Throwable e = failure;
            if (e instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (e instanceof Error error) {
                throw error;
            }
            if (e != null) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A pool's helpers, and whether they are to stop. */
    private static final class Crew {
        final Helper[] helpers;
        volatile boolean stopped;

        Crew(int count) {
            helpers = new Helper[count];
            for (int h = 0; h < count; h++) {
                helpers[h] = new Helper(h + 1, this);
            }
        }

        void stop() {
            stopped = true;
            for (Helper helper : helpers) {
                LockSupport.unpark(helper);
            }
        }
    }

    /** A thread that runs the jobs it is offered, one at a time, until its crew is stopped. */
    private static final class Helper extends Thread {
        private final Crew crew;
        private volatile Job job;

        Helper(int index, Crew crew) {
            super("jdiffusion-cpu-" + index);
            this.crew = crew;
            setDaemon(true);
        }

        void offer(Job next) {
            job = next;
            LockSupport.unpark(this);
        }

        @Override
        public void run() {
            while (true) {
                await(() -> job == null && !crew.stopped);
                Job current = job;
                if (current == null) {
                    return;
                }
                current.drain();
                job = null; // before the caller can hear of it, and offer the next job
                current.helperDone();
            }
        }
    }
}
