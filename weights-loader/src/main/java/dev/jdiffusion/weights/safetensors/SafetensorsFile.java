package dev.jdiffusion.weights.safetensors;

import static dev.jdiffusion.weights.safetensors.SafetensorsFormatException.Problem;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.WeightsException;
import dev.jdiffusion.weights.json.DuplicateKeyException;
import dev.jdiffusion.weights.json.Json;
import dev.jdiffusion.weights.json.JsonException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One safetensors file, memory-mapped: {@code u64 LE header length | UTF-8 JSON header | data}.
 *
 * <p>The whole header is validated at {@link #open} before any tensor is handed out, so a tensor's
 * bytes are always inside the file and belong to it alone. Nothing is copied: tensors are slices of
 * the mapping, valid until {@link #close()}. Files over 2 GiB work.
 */
public final class SafetensorsFile implements TensorSource {
    /** Headers larger than this are refused (the reference implementation uses the same bound). */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final String METADATA_KEY = "__metadata__";

    private final Path file;
    private final Arena arena;
    private final MemorySegment mapped;
    private final Map<String, RawTensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path file, Arena arena, MemorySegment mapped, Map<String, RawTensor> tensors,
            Map<String, String> metadata) {
        this.file = file;
        this.arena = arena;
        this.mapped = mapped;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps and validates {@code file}; a {@link SafetensorsFormatException} says what is wrong with it. */
    public static SafetensorsFile open(Path file) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapped;
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                mapped = channel.size() == 0
                        ? MemorySegment.NULL
                        : channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            }
            Parsed parsed = parse(file, mapped);
            return new SafetensorsFile(file, arena, mapped, parsed.tensors, parsed.metadata);
        } catch (IOException e) {
            arena.close();
            throw new WeightsException("cannot read " + file + ": " + e, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private record Parsed(Map<String, RawTensor> tensors, Map<String, String> metadata) {}

    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    private static Parsed parse(Path file, MemorySegment mapped) {
        long size = mapped.byteSize();
        if (size < 8) {
            throw new SafetensorsFormatException(file, null, Problem.TRUNCATED,
                    "the file has " + size + " bytes, fewer than the 8 of the header length");
        }
        long headerLength = mapped.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw new SafetensorsFormatException(file, null, Problem.HEADER_TOO_LARGE,
                    "header length " + Long.toUnsignedString(headerLength) + " exceeds the limit of "
                            + MAX_HEADER_BYTES + " bytes");
        }
        if (headerLength > size - 8) {
            throw new SafetensorsFormatException(file, null, Problem.TRUNCATED,
                    "the header announces " + headerLength + " bytes but only " + (size - 8) + " follow");
        }
        String header = decodeUtf8(file, mapped.asSlice(8, headerLength));
        Map<String, Object> json;
        try {
            if (!header.startsWith("{")) {
                throw new JsonException("the header must be a JSON object", 0);
            }
            json = Json.parseObject(header);
        } catch (DuplicateKeyException e) {
            throw new SafetensorsFormatException(file, e.key(), Problem.DUPLICATE_NAME, "the name appears twice in the header");
        } catch (JsonException e) {
            throw new SafetensorsFormatException(file, null, Problem.MALFORMED_HEADER, "header JSON: " + e.getMessage());
        }

        long dataStart = 8 + headerLength;
        long dataSize = size - dataStart;
        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>(json.size());
        for (Map.Entry<String, Object> e : json.entrySet()) {
            if (e.getKey().equals(METADATA_KEY)) {
                metadata = readMetadata(file, e.getValue());
            } else {
                entries.add(readEntry(file, e.getKey(), e.getValue(), dataSize));
            }
        }
        checkNoOverlap(file, entries);

        Map<String, RawTensor> tensors = new LinkedHashMap<>();
        for (Entry entry : entries) {
            MemorySegment bytes = mapped.asSlice(dataStart + entry.begin, entry.end - entry.begin);
            tensors.put(entry.name, new RawTensor(entry.name, entry.dtype, entry.shape, bytes));
        }
        return new Parsed(Collections.unmodifiableMap(tensors), metadata);
    }

    private static String decodeUtf8(Path file, MemorySegment bytes) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes.toArray(ValueLayout.JAVA_BYTE));
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(buffer)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsFormatException(file, null, Problem.MALFORMED_HEADER, "the header is not valid UTF-8");
        }
    }

    private static Map<String, String> readMetadata(Path file, Object value) {
        if (!(value instanceof Map<?, ?> map)) {
            throw new SafetensorsFormatException(file, null, Problem.MALFORMED_HEADER,
                    "__metadata__ must be an object of strings, found " + Json.typeName(value));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new SafetensorsFormatException(file, null, Problem.MALFORMED_HEADER,
                        "__metadata__ value of '" + e.getKey() + "' must be a string, found " + Json.typeName(e.getValue()));
            }
            metadata.put((String) e.getKey(), s);
        }
        return Collections.unmodifiableMap(metadata);
    }

    private static Entry readEntry(Path file, String name, Object value, long dataSize) {
        if (!(value instanceof Map<?, ?> info)) {
            throw new SafetensorsFormatException(file, name, Problem.MALFORMED_HEADER,
                    "expected an object with dtype, shape and data_offsets, found " + Json.typeName(value));
        }
        if (!(info.get("dtype") instanceof String dtypeName)) {
            throw new SafetensorsFormatException(file, name, Problem.MALFORMED_HEADER, "missing or non-string \"dtype\"");
        }
        DType dtype = DType.fromSafetensorsName(dtypeName).orElseThrow(() -> new SafetensorsFormatException(
                file, name, Problem.UNKNOWN_DTYPE, "unknown dtype \"" + dtypeName + "\""));

        if (!(info.get("shape") instanceof List<?> shapeList)) {
            throw new SafetensorsFormatException(file, name, Problem.BAD_SHAPE, "missing or non-list \"shape\"");
        }
        long[] shape = new long[shapeList.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(shapeList.get(i) instanceof Long dim) || dim < 0) {
                throw new SafetensorsFormatException(file, name, Problem.BAD_SHAPE,
                        "dimension " + i + " is " + shapeList.get(i) + ", not a non-negative integer");
            }
            shape[i] = dim;
            try {
                elements = Math.multiplyExact(elements, dim);
            } catch (ArithmeticException overflow) {
                throw new SafetensorsFormatException(file, name, Problem.BAD_SHAPE, "shape " + shapeList + " overflows");
            }
        }

        if (!(info.get("data_offsets") instanceof List<?> offsets) || offsets.size() != 2
                || !(offsets.get(0) instanceof Long begin) || !(offsets.get(1) instanceof Long end)
                || begin < 0 || end < begin) {
            throw new SafetensorsFormatException(file, name, Problem.BAD_OFFSETS,
                    "\"data_offsets\" must be [begin, end] with 0 <= begin <= end, found " + info.get("data_offsets"));
        }
        long expectedBytes;
        try {
            expectedBytes = Math.multiplyExact(elements, dtype.byteSize());
        } catch (ArithmeticException overflow) {
            throw new SafetensorsFormatException(file, name, Problem.BAD_SHAPE, "shape " + shapeList + " overflows");
        }
        if (end - begin != expectedBytes) {
            throw new SafetensorsFormatException(file, name, Problem.SIZE_MISMATCH,
                    "shape " + shapeList + " of " + dtype + " needs " + expectedBytes + " bytes but data_offsets ["
                            + begin + ", " + end + "] hold " + (end - begin));
        }
        if (end > dataSize) {
            throw new SafetensorsFormatException(file, name, Problem.OUT_OF_BOUNDS,
                    "data_offsets [" + begin + ", " + end + "] reach past the " + dataSize + " data bytes of the file");
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(Path file, List<Entry> entries) {
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.removeIf(e -> e.begin == e.end);
        byOffset.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < byOffset.size(); i++) {
            Entry previous = byOffset.get(i - 1);
            Entry current = byOffset.get(i);
            if (current.begin < previous.end) {
                throw new SafetensorsFormatException(file, current.name, Problem.OVERLAP,
                        "bytes [" + current.begin + ", " + current.end + "] overlap those of '" + previous.name + "'");
            }
        }
    }

    public Path file() {
        return file;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public Optional<RawTensor> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public String description() {
        return file.toString();
    }

    @Override
    public void releaseResidentPages() {
        if (mapped.isMapped() && arena.scope().isAlive()) {
            mapped.unload();
        }
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + file + ", " + tensors.size() + " tensors]";
    }
}
