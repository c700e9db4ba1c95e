package dev.jdiffusion.examples.cli;

import dev.jdiffusion.weights.hub.DownloadProgress;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Download progress: a line redrawn in place (at most ten times a second) with the size, speed and time
 * left on a terminal; otherwise one line per file started, for logs.
 */
final class DownloadBar implements DownloadProgress {
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintStream out;
    private final boolean terminal;
    private final long start = System.nanoTime();
    private long lastDraw;
    private String lastFile;
    private boolean finished;

    DownloadBar(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    @Override
    public void update(String file, long bytesDone, long bytesTotal) {
        long now = System.nanoTime();
        boolean newFile = !file.equals(lastFile);
        lastFile = file;
        if (!terminal) {
            if (newFile) {
                out.printf(Locale.ROOT, "downloading %s (%s of %s done)%n", file, megabytes(bytesDone), megabytes(bytesTotal));
            }
            return;
        }
        boolean done = bytesDone >= bytesTotal;
        if (finished || !done && !newFile && now - lastDraw < REDRAW_NANOS) {
            return;
        }
        lastDraw = now;
        double seconds = Math.max((now - start) / 1e9, 1e-3);
        double rate = bytesDone / seconds;
        long left = rate > 0 ? Math.round((bytesTotal - bytesDone) / rate) : 0;
        out.printf(Locale.ROOT, "\rdownloading %s / %s  %.1f MB/s  ETA %ds  %s\u001b[K", megabytes(bytesDone),
                megabytes(bytesTotal), rate / 1e6, left, file);
        if (done) {
            out.println();
            finished = true;
        }
        out.flush();
    }

    private static String megabytes(long bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
}
