package dev.jdiffusion.weights.json;

/** Text that is not the JSON it should be: says what was wrong and at which character. */
public class JsonException extends RuntimeException {
    private final int position;

    public JsonException(String message, int position) {
        super(message + (position >= 0 ? " (at character " + position + ")" : ""));
        this.position = position;
    }

    /** Index of the character where the problem was found, or -1 when it concerns the whole value. */
    public int position() {
        return position;
    }
}
