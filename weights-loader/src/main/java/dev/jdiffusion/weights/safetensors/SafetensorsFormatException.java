package dev.jdiffusion.weights.safetensors;

import dev.jdiffusion.weights.WeightsException;
import java.nio.file.Path;

/** A file that is not a valid safetensors file; {@link #problem()} says which rule it breaks. */
public final class SafetensorsFormatException extends WeightsException {

    /** The rule a malformed file breaks. */
    public enum Problem {
        /** Shorter than the 8-byte header length, or than the header it announces. */
        TRUNCATED,
        /** A header length beyond the limit this reader accepts. */
        HEADER_TOO_LARGE,
        /** The header is not UTF-8 JSON of the expected structure. */
        MALFORMED_HEADER,
        /** A dtype name this reader does not know. */
        UNKNOWN_DTYPE,
        /** A shape that is not a list of non-negative integers. */
        BAD_SHAPE,
        /** Offsets that are not two integers with begin &lt;= end. */
        BAD_OFFSETS,
        /** The byte range does not hold shape x dtype size bytes. */
        SIZE_MISMATCH,
        /** The byte range reaches past the end of the file. */
        OUT_OF_BOUNDS,
        /** Two tensors share bytes. */
        OVERLAP,
        /** Two tensors with the same name. */
        DUPLICATE_NAME
    }

    private final Path file;
    private final String tensor;
    private final Problem problem;

    public SafetensorsFormatException(Path file, String tensor, Problem problem, String detail) {
        super(file + (tensor == null ? "" : ", tensor '" + tensor + "'") + ": " + detail
                + " — not a valid safetensors file (damaged or incompletely downloaded?)");
        this.file = file;
        this.tensor = tensor;
        this.problem = problem;
    }

    public Path file() {
        return file;
    }

    /** The tensor concerned, or null when the problem is with the file as a whole. */
    public String tensor() {
        return tensor;
    }

    public Problem problem() {
        return problem;
    }
}
