package dev.jdiffusion.weights.safetensors;

import static dev.jdiffusion.weights.safetensors.SafetensorsFormatException.Problem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.weights.WeightsException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One test per rule a safetensors file can break; each names the problem, the file and the tensor. */
class MalformedSafetensorsTest {
    @TempDir
    Path dir;

    private SafetensorsFormatException refused(Path file, Problem expected) {
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> SafetensorsFile.open(file));
        assertEquals(expected, e.problem(), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        return e;
    }

    private Path file(String header, int dataBytes) {
        return SafetensorsFiles.raw(dir.resolve("bad.safetensors"), header, dataBytes);
    }

    @Test
    void emptyFile() throws Exception {
        Path f = Files.write(dir.resolve("empty.safetensors"), new byte[0]);
        refused(f, Problem.TRUNCATED);
    }

    @Test
    void fileShorterThanHeaderLength() throws Exception {
        Path f = Files.write(dir.resolve("short.safetensors"), new byte[] {2, 0, 0});
        refused(f, Problem.TRUNCATED);
    }

    @Test
    void headerLengthBeyondFile() {
        byte[] json = "{}".getBytes(StandardCharsets.UTF_8);
        refused(SafetensorsFiles.raw(dir.resolve("b.safetensors"), 1000, json, 0), Problem.TRUNCATED);
    }

    @Test
    void headerLengthBeyondLimit() {
        byte[] json = "{}".getBytes(StandardCharsets.UTF_8);
        refused(SafetensorsFiles.raw(dir.resolve("b.safetensors"), SafetensorsFile.MAX_HEADER_BYTES + 1, json, 0),
                Problem.HEADER_TOO_LARGE);
        refused(SafetensorsFiles.raw(dir.resolve("c.safetensors"), -1, json, 0), Problem.HEADER_TOO_LARGE);
    }

    @Test
    void headerNotJson() {
        refused(file("{\"a\": {\"dtype\": \"F32\",", 0), Problem.MALFORMED_HEADER);
        refused(file("[1, 2]", 0), Problem.MALFORMED_HEADER);
        refused(file("\"just a string\"", 0), Problem.MALFORMED_HEADER);
    }

    @Test
    void headerNotUtf8() {
        byte[] bad = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        refused(SafetensorsFiles.raw(dir.resolve("b.safetensors"), bad.length, bad, 0), Problem.MALFORMED_HEADER);
    }

    @Test
    void tensorEntryNotAnObjectOrWithoutDtype() {
        SafetensorsFormatException e = refused(file("{\"w\": 5}", 0), Problem.MALFORMED_HEADER);
        assertEquals("w", e.tensor());
        refused(file("{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4), Problem.MALFORMED_HEADER);
    }

    @Test
    void metadataWithNonStringValue() {
        refused(file("{\"__metadata__\": {\"n\": 1}}", 0), Problem.MALFORMED_HEADER);
    }

    @Test
    void unknownDtype() {
        SafetensorsFormatException e = refused(file("{\"w\": {\"dtype\": \"F128\", \"shape\": [1], \"data_offsets\": [0, 16]}}", 16),
                Problem.UNKNOWN_DTYPE);
        assertEquals("w", e.tensor());
        assertTrue(e.getMessage().contains("F128"));
    }

    @Test
    void badShape() {
        refused(file("{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4), Problem.BAD_SHAPE);
        refused(file("{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4), Problem.BAD_SHAPE);
        refused(file("{\"w\": {\"dtype\": \"F32\", \"shape\": 4, \"data_offsets\": [0, 16]}}", 16), Problem.BAD_SHAPE);
        refused(file("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 4]}}", 4),
                Problem.BAD_SHAPE);
    }

    @Test
    void badOffsets() {
        refused(file("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", 4), Problem.BAD_OFFSETS);
        refused(file("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4), Problem.BAD_OFFSETS);
        refused(file("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", 4), Problem.BAD_OFFSETS);
    }

    @Test
    void sizeMismatch() {
        SafetensorsFormatException e = refused(
                file("{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}}", 24), Problem.SIZE_MISMATCH);
        assertTrue(e.getMessage().contains("24") && e.getMessage().contains("20"), e.getMessage());
    }

    @Test
    void outOfBounds() {
        refused(file("{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 12), Problem.OUT_OF_BOUNDS);
    }

    @Test
    void overlap() {
        SafetensorsFormatException e = refused(file("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                + " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12), Problem.OVERLAP);
        assertTrue(e.getMessage().contains("'a'") || e.getMessage().contains("'b'"), e.getMessage());
    }

    @Test
    void duplicateName() {
        SafetensorsFormatException e = refused(file("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                + " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8), Problem.DUPLICATE_NAME);
        assertEquals("a", e.tensor());
    }

    @Test
    void missingFileIsAWeightsException() {
        WeightsException e = assertThrows(WeightsException.class, () -> SafetensorsFile.open(dir.resolve("nope.safetensors")));
        assertTrue(e.getMessage().contains("nope.safetensors"));
    }
}
