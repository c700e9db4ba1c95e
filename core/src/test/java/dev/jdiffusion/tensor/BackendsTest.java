package dev.jdiffusion.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.pipeline.StableDiffusion;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Picking a backend by device, as {@code StableDiffusion.load(...).device(...)} and {@code --device} do. */
class BackendsTest {

    @Test
    void theCpuIsFoundThroughItsProvider() {
        try (Backend backend = Backends.open(Device.CPU, 3)) {
            assertEquals(Device.CPU, backend.device());
            assertEquals(3, ((CpuBackend) backend).threads());
        }
    }

    @Test
    void aDeviceWithoutItsBackendModuleSaysWhichArtifactToAdd() {
        // core's tests run without kernels-cuda on the class path
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.open(Device.cuda(0), 1));
        assertTrue(e.getMessage().contains("cuda:0") && e.getMessage().contains("jdiffusion-kernels-cuda"), e.getMessage());
    }

    @Test
    void thereIsOneCpuDevice() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                () -> Backends.open(new Device("cpu", 1), 1));
        assertTrue(e.getMessage().contains("one CPU device"), e.getMessage());
    }

    @Test
    void anUnavailableDeviceFailsBeforeAnyDownload() {
        // a repo id that would need the network: the device is checked first, so no hub is ever asked
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                () -> StableDiffusion.load("someone/some-model").device(Device.cuda(0)).open());
        assertTrue(e.getMessage().contains("cuda:0"), e.getMessage());
        assertThrows(BackendUnavailableException.class,
                () -> StableDiffusion.load(Path.of("no-such-folder")).device(Device.cuda(1)).open());
    }
}
