package dev.jdiffusion.testing;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Backends;
import dev.jdiffusion.tensor.Device;

/**
 * The device the golden tests run their models on: the CPU, or the one {@code -Djdiffusion.test.device} names
 * ({@code cuda}, with the CUDA backend on the class path), so that a GPU is checked against the same fixtures
 * and tolerances as the CPU.
 */
public final class TestDevice {
    public static final String PROPERTY = "jdiffusion.test.device";

    private TestDevice() {}

    public static Device device() {
        return Device.parse(System.getProperty(PROPERTY, "cpu"));
    }

    /**
     * How far a batch item's result may differ from the same item computed alone: not at all on the CPU, whose
     * products sum in an order that does not depend on the batch; a few units in the last place of an F32 elsewhere,
     * since cuBLAS picks its algorithm, and so its order of summing, by the matrix sizes.
     */
    public static float batchInvarianceTolerance() {
        return device().equals(Device.CPU) ? 0 : 1e-6f;
    }

    /** A backend on {@link #device()}: the CPU backend on all cores by default. */
    public static Backend backend() {
        Device device = device();
        return device.equals(Device.CPU) ? new CpuBackend() : Backends.open(device, 1);
    }
}
