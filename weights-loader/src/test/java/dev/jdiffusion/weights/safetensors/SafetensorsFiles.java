package dev.jdiffusion.weights.safetensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, so tests can make them as wrong as they like. */
final class SafetensorsFiles {
    private SafetensorsFiles() {}

    /** Writes {@code u64 length | header | data} with the header exactly as given. */
    static Path raw(Path file, String header, int dataBytes) {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        return raw(file, json.length, json, dataBytes);
    }

    static Path raw(Path file, long declaredLength, byte[] header, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header);
        try {
            Files.write(file, b.array());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }
}
