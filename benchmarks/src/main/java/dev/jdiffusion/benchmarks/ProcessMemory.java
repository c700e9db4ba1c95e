package dev.jdiffusion.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Resident memory of this process as the kernel reports it (Linux {@code /proc/self/status}). */
final class ProcessMemory {
    private ProcessMemory() {}

    /** Current resident set size in bytes, or -1 where unavailable. */
    static long residentBytes() {
        return field("VmRSS:");
    }

    /** The peak resident set size in bytes since the process started, or -1. */
    static long peakResidentBytes() {
        return field("VmHWM:");
    }

    /**
     * Restarts the peak from the current resident size (Linux 4.0+: {@code 5} written to
     * {@code /proc/self/clear_refs}), so that each figure of a run reports its own peak; false where refused.
     */
    static boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(name)) {
                    return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // fall through
        }
        return -1;
    }
}
