package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.BackendProvider;
import dev.jdiffusion.tensor.BackendUnavailableException;
import dev.jdiffusion.tensor.Device;

/** The CPU backend as a {@link BackendProvider}: device {@code cpu} (index 0, all of the host's cores). */
public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String deviceKind() {
        return "cpu";
    }

    @Override
    public Backend open(Device device, int hostThreads) {
        if (device.index() != 0) {
            throw new BackendUnavailableException("there is one CPU device, cpu (index 0); got " + device.kind() + ":"
                    + device.index());
        }
        return new CpuBackend(hostThreads);
    }
}
