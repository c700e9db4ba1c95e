package dev.jdiffusion.weights.safetensors;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.WeightsException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corrupts and truncates a valid file thousands of times (seeded, so any failure replays) and checks
 * that every outcome is either a file whose tensors can all be read, or this library's own exception.
 */
class SafetensorsMutationTest {
    private static final int MUTATIONS = 4000;

    @TempDir
    Path dir;

    @Test
    void everyCorruptionIsEitherReadableOrRefusedCleanly() throws Exception {
        Path valid = dir.resolve("valid.safetensors");
        Random content = new Random(7);
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt").metadata("note", "é✓");
        DType[] types = DType.values();
        for (int i = 0; i < types.length; i++) {
            byte[] bytes = new byte[(i + 1) * 3 * types[i].byteSize()];
            content.nextBytes(bytes);
            writer.add("layer." + i + ".weight", types[i], new long[] {i + 1, 3}, MemorySegment.ofArray(bytes));
        }
        writer.write(valid);
        byte[] original = Files.readAllBytes(valid);
        int headerEnd = 8 + (int) java.nio.ByteBuffer.wrap(original).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();

        Path mutated = dir.resolve("mutated.safetensors");
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            for (int seed = 0; seed < MUTATIONS; seed++) {
                byte[] bytes = mutate(original, headerEnd, new Random(seed));
                Files.write(mutated, bytes);
                try (SafetensorsFile f = SafetensorsFile.open(mutated)) {
                    for (String name : f.names()) {
                        readEverything(f.get(name));
                    }
                } catch (WeightsException expected) {
                    // the library's own, specific refusal
                } catch (Throwable other) {
                    fail("mutation seed " + seed + " escaped as " + other, other);
                }
            }
        });
    }

    private static void readEverything(RawTensor t) {
        if (t.dtype().isFloatingPoint()) {
            t.toFloatArray();
        } else {
            t.toLongArray();
        }
    }

    private static byte[] mutate(byte[] original, int headerEnd, Random r) {
        byte[] b = original.clone();
        switch (r.nextInt(6)) {
            case 0 -> { // flip bytes, mostly in the header where they matter
                int flips = 1 + r.nextInt(4);
                for (int i = 0; i < flips; i++) {
                    int at = r.nextInt(4) == 0 ? r.nextInt(b.length) : r.nextInt(headerEnd);
                    b[at] = (byte) r.nextInt(256);
                }
            }
            case 1 -> b = Arrays.copyOf(b, r.nextInt(b.length)); // truncate
            case 2 -> { // replace a header byte with a JSON-significant character
                byte[] significant = "{}[]\":,0123456789-e. ".getBytes();
                b[8 + r.nextInt(headerEnd - 8)] = significant[r.nextInt(significant.length)];
            }
            case 3 -> { // change the declared header length
                long length = switch (r.nextInt(3)) {
                    case 0 -> r.nextLong();
                    case 1 -> headerEnd - 8 + r.nextInt(33) - 16;
                    default -> r.nextInt(b.length * 2);
                };
                java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(0, length);
            }
            case 4 -> { // delete a span inside the header
                int from = 8 + r.nextInt(headerEnd - 8);
                int to = Math.min(b.length, from + 1 + r.nextInt(20));
                byte[] shorter = new byte[b.length - (to - from)];
                System.arraycopy(b, 0, shorter, 0, from);
                System.arraycopy(b, to, shorter, from, b.length - to);
                b = shorter;
            }
            default -> { // alter a digit inside the header (shapes, offsets)
                for (int tries = 0; tries < 50; tries++) {
                    int at = 8 + r.nextInt(headerEnd - 8);
                    if (b[at] >= '0' && b[at] <= '9') {
                        b[at] = (byte) ('0' + r.nextInt(10));
                        break;
                    }
                }
            }
        }
        return b;
    }
}
