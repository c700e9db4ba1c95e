package dev.jdiffusion.tensor;

/**
 * Makes the backends of one kind of device. Implementations are found through {@link java.util.ServiceLoader}
 * ({@code META-INF/services/dev.jdiffusion.tensor.BackendProvider}), so a backend module (the CUDA one) only
 * has to be on the class path; {@link Backends#open} picks the provider by {@link Device#kind()}.
 */
public interface BackendProvider {
    /** The device kind served, as {@link Device#kind()} names it: {@code "cpu"}, {@code "cuda"}. */
    String deviceKind();

    /**
     * A backend on {@code device}.
     *
     * @param hostThreads the CPU threads the backend may use for its own work (the CPU backend's thread count)
     * @throws BackendUnavailableException when the device or the libraries it needs are missing, saying which
     */
    Backend open(Device device, int hostThreads);
}
