package dev.jdiffusion.tensor;

import java.util.List;
import java.util.ServiceLoader;

/** Opens a backend for a device through the {@link BackendProvider}s on the class path. */
public final class Backends {
    private Backends() {}

    /**
     * A backend on {@code device}; {@code hostThreads} CPU threads for the CPU backend.
     *
     * @throws BackendUnavailableException when no provider serves the device's kind, or the provider cannot run
     *     here (its message names what is missing)
     */
    public static Backend open(Device device, int hostThreads) {
        List<BackendProvider> providers = ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())
                .stream().map(ServiceLoader.Provider::get).toList();
        for (BackendProvider provider : providers) {
            if (provider.deviceKind().equals(device.kind())) {
                return provider.open(device, hostThreads);
            }
        }
        String hint = device.kind().equals("cuda")
                ? ": the CUDA backend is the artifact dev.jdiffusion:jdiffusion-kernels-cuda; add it to the class path"
                : "";
        throw new BackendUnavailableException("no backend for device " + device + " on the class path (found: "
                + providers.stream().map(BackendProvider::deviceKind).toList() + ")" + hint);
    }
}
