package dev.jdiffusion.tensor;

/**
 * No backend can run on the requested device here: no provider for its kind on the class path, no such device,
 * or a native library it needs is missing. The message says which, and what to install or add.
 */
public class BackendUnavailableException extends RuntimeException {
    public BackendUnavailableException(String message) {
        super(message);
    }

    public BackendUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
