package dev.jdiffusion.weights.safetensors;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.json.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a safetensors file. Tensors are added with their dtype and shape and a filler that writes
 * their little-endian bytes when the file is written, one tensor at a time, so files far larger than
 * the heap can be produced. The file appears atomically (written beside, then moved).
 */
public final class SafetensorsWriter {

    /** Produces a tensor's bytes into a zeroed little-endian segment of exactly its size. */
    @FunctionalInterface
    public interface Filler {
        void fill(MemorySegment target);
    }

    private record Pending(String name, DType dtype, long[] shape, Filler filler) {
        long byteSize() {
            return RawTensor.elementCount(shape) * dtype.byteSize();
        }
    }

    private final List<Pending> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds a {@code __metadata__} entry. */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a tensor whose bytes {@code filler} writes when the file is written. */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, Filler filler) {
        if (name.equals("__metadata__")) {
            throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
        }
        if (!names.add(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a negative dimension: " + Arrays.toString(shape));
            }
        }
        tensors.add(new Pending(name, dtype, shape.clone(), filler));
        return this;
    }

    /** Adds a tensor with the given raw little-endian bytes (copied when written). */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, MemorySegment bytes) {
        long expected = RawTensor.elementCount(shape) * dtype.byteSize();
        if (bytes.byteSize() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "' needs " + expected + " bytes, got " + bytes.byteSize());
        }
        return add(name, dtype, shape, target -> target.copyFrom(bytes));
    }

    /** Adds an existing tensor under its own name. */
    public SafetensorsWriter add(RawTensor tensor) {
        return add(tensor.name(), tensor.dtype(), tensor.shape(), tensor.data());
    }

    /** Adds an F32 tensor. */
    public SafetensorsWriter addF32(String name, long[] shape, float[] values) {
        checkCount(name, shape, values.length);
        return add(name, DType.F32, shape, target -> MemorySegment.copy(values, 0, target,
                ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, values.length));
    }

    /** Adds an I64 tensor. */
    public SafetensorsWriter addI64(String name, long[] shape, long[] values) {
        checkCount(name, shape, values.length);
        return add(name, DType.I64, shape, target -> MemorySegment.copy(values, 0, target,
                ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, values.length));
    }

    private static void checkCount(String name, long[] shape, int count) {
        if (RawTensor.elementCount(shape) != count) {
            throw new IllegalArgumentException("tensor '" + name + "' of shape " + Arrays.toString(shape)
                    + " needs " + RawTensor.elementCount(shape) + " values, got " + count);
        }
    }

    /** Writes the file: header padded with spaces to an 8-byte boundary, then the tensors in order. */
    public void write(Path file) {
        Map<String, Object> header = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            header.put("__metadata__", metadata);
        }
        long offset = 0;
        for (Pending t : tensors) {
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype.safetensorsName());
            info.put("shape", t.shape);
            info.put("data_offsets", new long[] {offset, offset + t.byteSize()});
            header.put(t.name, info);
            offset += t.byteSize();
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();

        Path absolute = file.toAbsolutePath();
        Path temporary = absolute.resolveSibling(absolute.getFileName() + ".partial");
        try {
            if (absolute.getParent() != null) {
                Files.createDirectories(absolute.getParent());
            }
            try (FileChannel out = FileChannel.open(temporary, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(out, head);
                for (Pending t : tensors) {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment bytes = arena.allocate(Math.max(1, t.byteSize()), 64).asSlice(0, t.byteSize());
                        t.filler.fill(bytes);
                        writeFully(out, bytes.asByteBuffer());
                    }
                }
            }
            Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            out.write(buffer);
        }
    }
}
