package dev.jdiffusion.weights.json;

/** An object that names the same key twice; which value was meant is ambiguous, so it is refused. */
public final class DuplicateKeyException extends JsonException {
    private final String key;

    public DuplicateKeyException(String key, int position) {
        super("duplicate key \"" + key + "\"", position);
        this.key = key;
    }

    public String key() {
        return key;
    }
}
