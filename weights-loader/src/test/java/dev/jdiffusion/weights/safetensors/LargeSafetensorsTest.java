package dev.jdiffusion.weights.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LargeSafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void filesOverTwoGibibytesAreMappedWhole() throws Exception {
        long elements = 3L * 1024 * 1024 * 1024; // 3 GiB of U8, sparse on disk
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + elements + "],\"data_offsets\":[0," + elements + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" + elements + "," + (elements + 4) + "]}}";
        Path file = SafetensorsFiles.raw(dir.resolve("big.safetensors"), header, 0);
        long dataStart = 8 + header.getBytes(StandardCharsets.UTF_8).length;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(dataStart + elements + 4);
            raf.seek(dataStart + elements - 1);
            raf.write(200);
            raf.write(new byte[] {0, 0, (byte) 0xC0, 0x3F}); // 1.5f little-endian
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(elements, f.get("big").elementCount());
            assertEquals(200, f.get("big").getLong(elements - 1));
            assertEquals(1.5f, f.get("tail").getFloat(0));
        }
    }
}
