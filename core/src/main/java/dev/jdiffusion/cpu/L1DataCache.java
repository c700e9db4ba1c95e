package dev.jdiffusion.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The size of a core's level-1 data cache, which the matrix product's K blocks are sized by
 * ({@link GemmLayout.Blocking}): a block sized for 48 KiB slowed the micro-kernel by a fifth on a core with 32.
 * Read from Linux's {@code /sys/devices/system/cpu/cpu0/cache}; where that is missing (other systems, some
 * containers), {@link #FALLBACK_BYTES}.
 */
final class L1DataCache {
    /**
     * System property: the size (for example {@code 48K}), where the operating system does not tell it or tells
     * it wrong, or to run the blocking of another machine.
     */
    static final String PROPERTY = "jdiffusion.l1DataCache";
    /** The smallest L1 of the common x86 and Arm cores of the last decade: blocks sized for it fit the others. */
    static final long FALLBACK_BYTES = 32 << 10;
    private static final Path SYSFS = Path.of("/sys/devices/system/cpu/cpu0/cache");

    private L1DataCache() {}

    /** This machine's, decided once. */
    static long hostBytes() {
        return Host.BYTES;
    }

    private static final class Host {
        static final long BYTES = detect();
    }

    private static long detect() {
        String given = System.getProperty(PROPERTY);
        if (given != null) {
            try {
                return bytes(given);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("-D" + PROPERTY + "=" + given + ": " + e.getMessage(), e);
            }
        }
        for (int index = 0; index < 8; index++) {
            Path cache = SYSFS.resolve("index" + index);
            try {
                if (Files.readString(cache.resolve("level")).trim().equals("1")
                        && Files.readString(cache.resolve("type")).trim().equals("Data")) {
                    return bytes(Files.readString(cache.resolve("size")));
                }
            } catch (IOException | IllegalArgumentException e) {
                break; // no sysfs, or not as expected: fall back
            }
        }
        return FALLBACK_BYTES;
    }

    /** A positive size as sysfs writes it ({@code 48K}, {@code 2M}) or a plain number of bytes. */
    static long bytes(String size) {
        String s = size.trim().toUpperCase(Locale.ROOT);
        int shift = s.endsWith("K") ? 10 : s.endsWith("M") ? 20 : 0;
        try {
            long bytes = Long.parseLong(shift == 0 ? s : s.substring(0, s.length() - 1).trim()) << shift;
            if (bytes > 0) {
                return bytes;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new IllegalArgumentException("not a cache size: '" + size.trim() + "' (expected, for example, 48K)");
    }
}
