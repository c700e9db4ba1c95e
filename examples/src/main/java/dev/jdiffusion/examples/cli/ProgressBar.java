package dev.jdiffusion.examples.cli;

import dev.jdiffusion.pipeline.StepProgress;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Step progress on the terminal: a bar redrawn in place with steps/s and the time left when the output
 * is a terminal, a plain line per step otherwise (logs, pipes).
 */
final class ProgressBar {
    private static final int WIDTH = 30;

    private final PrintStream out;
    private final boolean terminal;
    private final String label;
    private long start;

    ProgressBar(PrintStream out, boolean terminal, String label) {
        this.out = out;
        this.terminal = terminal;
        this.label = label;
    }

    void begin() {
        start = System.nanoTime();
    }

    void step(StepProgress p) {
        double elapsed = (System.nanoTime() - start) / 1e9;
        double rate = p.step() / Math.max(elapsed, 1e-9);
        double left = (p.total() - p.step()) / rate;
        if (terminal) {
            int filled = WIDTH * p.step() / p.total();
            out.printf(Locale.ROOT, "\r%s [%s%s] %d/%d  %.2f steps/s  ETA %s ", label, "#".repeat(filled),
                    " ".repeat(WIDTH - filled), p.step(), p.total(), rate, duration(left));
            if (p.step() == p.total()) {
                out.println();
            }
        } else {
            out.printf(Locale.ROOT, "%s step %d/%d (%.2f steps/s, %s left)%n", label, p.step(), p.total(), rate, duration(left));
        }
        out.flush();
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 60 ? (s / 60) + "m" + String.format(Locale.ROOT, "%02d", s % 60) + "s" : s + "s";
    }
}
