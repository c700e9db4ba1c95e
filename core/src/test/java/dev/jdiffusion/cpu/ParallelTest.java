package dev.jdiffusion.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ParallelTest {
    private static final Duration LIMIT = Duration.ofSeconds(30);

    @Test
    void runsEveryTaskExactlyOnceAcrossManyCallsAndSpreadsThemOverTheThreads() {
        assertTimeoutPreemptively(LIMIT, () -> {
            try (Parallel parallel = new Parallel(3)) {
                Set<Thread> workers = ConcurrentHashMap.newKeySet();
                for (int call = 0; call < 2000; call++) {
                    int tasks = 1 + call % 37;
                    AtomicIntegerArray runs = new AtomicIntegerArray(tasks);
                    parallel.forEach(tasks, i -> {
                        runs.incrementAndGet(i);
                        workers.add(Thread.currentThread());
                        if (i % 5 == 0) {
                            Thread.onSpinWait(); // uneven tasks
                        }
                    });
                    int[] expected = new int[tasks];
                    java.util.Arrays.fill(expected, 1);
                    assertArrayEquals(expected, toArray(runs), "call " + call);
                }
                assertTrue(workers.size() > 1, "all tasks ran on " + workers);
            }
        });
    }

    @Test
    void writesOfTheTasksAreSeenByTheCaller() {
        assertTimeoutPreemptively(LIMIT, () -> {
            try (Parallel parallel = new Parallel(2)) {
                for (int call = 0; call < 500; call++) {
                    int[] values = new int[64]; // plain array: only the pool's hand-over orders these writes
                    int base = call;
                    parallel.forEach(values.length, i -> values[i] = base + i);
                    for (int i = 0; i < values.length; i++) {
                        assertEquals(base + i, values[i]);
                    }
                }
            }
        });
    }

    @Test
    void aFailingTaskStopsTheCallAndReachesTheCallerAndThePoolGoesOn() {
        assertTimeoutPreemptively(LIMIT, () -> {
            try (Parallel parallel = new Parallel(2)) {
                IllegalArgumentException thrown = new IllegalArgumentException("task 7");
                assertSame(thrown, assertThrows(IllegalArgumentException.class, () -> parallel.forEach(100, i -> {
                    if (i == 7) {
                        throw thrown;
                    }
                })));
                AssertionError error = new AssertionError("an Error from a task");
                assertSame(error, assertThrows(AssertionError.class, () -> parallel.forEach(100, i -> {
                    if (i == 50) {
                        throw error;
                    }
                })));
                AtomicIntegerArray runs = new AtomicIntegerArray(10);
                parallel.forEach(10, runs::incrementAndGet);
                assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, toArray(runs));
            }
        });
    }

    @Test
    void aCallFromInsideATaskRunsOnThatTaskThread() {
        assertTimeoutPreemptively(LIMIT, () -> {
            try (Parallel parallel = new Parallel(2)) {
                AtomicIntegerArray inner = new AtomicIntegerArray(8 * 8);
                parallel.forEach(8, outer -> {
                    Thread own = Thread.currentThread();
                    parallel.forEach(8, i -> {
                        assertSame(own, Thread.currentThread());
                        inner.incrementAndGet(outer * 8 + i);
                    });
                });
                for (int i = 0; i < inner.length(); i++) {
                    assertEquals(1, inner.get(i));
                }
            }
        });
    }

    @Test
    void callersOnTwoThreadsBothFinish() {
        assertTimeoutPreemptively(LIMIT, () -> {
            try (Parallel parallel = new Parallel(2)) {
                AtomicIntegerArray runs = new AtomicIntegerArray(2 * 1000);
                CountDownLatch start = new CountDownLatch(1);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread[] callers = new Thread[2];
                for (int c = 0; c < callers.length; c++) {
                    int caller = c;
                    callers[c] = new Thread(() -> {
                        try {
                            start.await();
                            for (int call = 0; call < 100; call++) {
                                int first = caller * 1000 + call * 10;
                                parallel.forEach(10, i -> runs.incrementAndGet(first + i));
                            }
                        } catch (Throwable e) {
                            failure.set(e);
                        }
                    });
                    callers[c].start();
                }
                start.countDown();
                for (Thread caller : callers) {
                    caller.join();
                }
                assertEquals(null, failure.get());
                for (int i = 0; i < runs.length(); i++) {
                    assertEquals(1, runs.get(i), "task " + i);
                }
            }
        });
    }

    @Test
    void closingEndsTheHelpersAndLaterCallsFail() {
        assertTimeoutPreemptively(LIMIT, () -> {
            Parallel parallel = new Parallel(3);
            Set<Thread> helpers = helpersOf(parallel);
            parallel.close();
            for (Thread helper : helpers) {
                helper.join();
            }
            IllegalStateException closed = assertThrows(IllegalStateException.class, () -> parallel.forEach(4, i -> {}));
            assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        });
    }

    @Test
    void aPoolDroppedUnclosedEndsItsHelpersOnceCollected() {
        assertTimeoutPreemptively(LIMIT, () -> {
            Set<Thread> helpers = helpersOf(new Parallel(3)); // and the pool is dropped unclosed
            for (Thread helper : helpers) {
                while (helper.isAlive()) {
                    System.gc(); // the pool is unreachable: its collection stops the helpers
                    helper.join(100);
                }
            }
        });
    }

    /** Runs a pool of three threads until both its helpers have taken tasks; returns them. */
    private static Set<Thread> helpersOf(Parallel parallel) {
        Set<Thread> helpers = ConcurrentHashMap.newKeySet();
        Thread caller = Thread.currentThread();
        while (helpers.size() < 2) {
            parallel.forEach(64, i -> {
                if (Thread.currentThread() != caller) {
                    helpers.add(Thread.currentThread());
                }
                Thread.onSpinWait();
            });
        }
        return helpers;
    }

    @Test
    void rejectsAThreadCountBelowOne() {
        assertThrows(IllegalArgumentException.class, () -> new Parallel(0));
    }

    private static int[] toArray(AtomicIntegerArray values) {
        int[] out = new int[values.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }
}
