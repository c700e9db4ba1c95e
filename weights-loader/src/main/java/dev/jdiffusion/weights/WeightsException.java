package dev.jdiffusion.weights;

/** Weights that cannot be used as they are: an unreadable, malformed or incomplete model file. */
public class WeightsException extends RuntimeException {
    public WeightsException(String message) {
        super(message);
    }

    public WeightsException(String message, Throwable cause) {
        super(message, cause);
    }
}
