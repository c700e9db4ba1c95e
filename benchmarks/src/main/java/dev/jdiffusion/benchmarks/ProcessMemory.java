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
