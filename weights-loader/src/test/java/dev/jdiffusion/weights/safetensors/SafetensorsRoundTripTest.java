package dev.jdiffusion.weights.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.MissingTensorException;
import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(DType.class)
    void everyDTypeRoundTripsByteForByte(DType dtype) {
        long[] shape = {3, 5, 7};
        byte[] bytes = new byte[105 * dtype.byteSize()];
        new Random(dtype.ordinal()).nextBytes(bytes);
        if (dtype == DType.BOOL) {
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] &= 1;
            }
        }
        Path file = dir.resolve(dtype + ".safetensors");
        new SafetensorsWriter()
                .metadata("format", "pt")
                .add("t", dtype, shape, MemorySegment.ofArray(bytes))
                .add("scalar", dtype, new long[0], MemorySegment.ofArray(java.util.Arrays.copyOf(bytes, dtype.byteSize())))
                .add("empty", dtype, new long[] {0, 4}, MemorySegment.ofArray(new byte[0]))
                .write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("t", "scalar", "empty"), List.copyOf(f.names()));
            assertEquals(Map.of("format", "pt"), f.metadata());
            RawTensor t = f.get("t");
            assertEquals(dtype, t.dtype());
            assertArrayEquals(shape, t.shape());
            assertArrayEquals(bytes, t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            assertEquals(1, f.get("scalar").elementCount());
            assertEquals(0, f.get("empty").elementCount());
        }
    }

    @Test
    void widensFloatTypesAsTorchDoes() {
        Path file = dir.resolve("floats.safetensors");
        // 1.5 in F16 is 0x3E00, in BF16 0x3FC0; -2 in F16 is 0xC000.
        new SafetensorsWriter()
                .add("f16", DType.F16, new long[] {2}, MemorySegment.ofArray(new byte[] {0x00, 0x3E, 0x00, (byte) 0xC0}))
                .add("bf16", DType.BF16, new long[] {1}, MemorySegment.ofArray(new byte[] {(byte) 0xC0, 0x3F}))
                .addF32("f32", new long[] {2}, new float[] {0.1f, Float.NEGATIVE_INFINITY})
                .addI64("i64", new long[] {2}, new long[] {Long.MAX_VALUE, -3})
                .write(file);
        try (TensorSource f = Safetensors.open(file)) {
            assertArrayEquals(new float[] {1.5f, -2f}, f.get("f16").toFloatArray());
            assertArrayEquals(new float[] {1.5f}, f.get("bf16").toFloatArray());
            assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, f.get("f32").toFloatArray());
            assertArrayEquals(new long[] {Long.MAX_VALUE, -3}, f.get("i64").toLongArray());
        }
    }

    @Test
    void headerIsPaddedSoDataIsAligned() throws Exception {
        Path file = dir.resolve("aligned.safetensors");
        new SafetensorsWriter().addF32("x", new long[] {1}, new float[] {1}).write(file);
        byte[] all = Files.readAllBytes(file);
        long headerLength = java.nio.ByteBuffer.wrap(all).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + headerLength) % 8);
    }

    @Test
    void missingTensorNamesTensorAndFile() {
        Path file = dir.resolve("one.safetensors");
        new SafetensorsWriter().addF32("present", new long[] {1}, new float[] {1}).write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            MissingTensorException e = assertThrows(MissingTensorException.class, () -> f.get("absent"));
            assertTrue(e.getMessage().contains("absent") && e.getMessage().contains(file.toString()), e.getMessage());
        }
    }

    @Test
    void shardedCheckpointJoinsItsShards() throws Exception {
        new SafetensorsWriter().addF32("a", new long[] {2}, new float[] {1, 2}).write(dir.resolve("m-1.safetensors"));
        new SafetensorsWriter().addF32("b", new long[] {1}, new float[] {3}).write(dir.resolve("m-2.safetensors"));
        Path index = dir.resolve("m.safetensors.index.json");
        Files.writeString(index, "{\"metadata\":{\"total_size\":12},\"weight_map\":{\"a\":\"m-1.safetensors\",\"b\":\"m-2.safetensors\"}}");
        try (TensorSource s = Safetensors.open(index)) {
            assertEquals(List.of("a", "b"), List.copyOf(s.names()));
            assertArrayEquals(new float[] {3}, s.get("b").toFloatArray());
            assertEquals("12", s.metadata().get("total_size"));
        }
    }

    @Test
    void shardedIndexPointingAtWrongShardIsRefused() throws Exception {
        new SafetensorsWriter().addF32("a", new long[] {1}, new float[] {1}).write(dir.resolve("m-1.safetensors"));
        Path index = dir.resolve("m.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\":{\"b\":\"m-1.safetensors\"}}");
        var e = assertThrows(dev.jdiffusion.weights.WeightsException.class, () -> Safetensors.open(index));
        assertTrue(e.getMessage().contains("'b'"), e.getMessage());
    }

    @Test
    void shardOutsideTheFolderIsRefused() throws Exception {
        Path index = dir.resolve("m.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\":{\"b\":\"../elsewhere.safetensors\"}}");
        assertThrows(dev.jdiffusion.weights.WeightsException.class, () -> Safetensors.open(index));
    }
}
