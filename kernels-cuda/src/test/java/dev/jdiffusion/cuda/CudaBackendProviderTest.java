package dev.jdiffusion.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.BackendUnavailableException;
import dev.jdiffusion.tensor.Backends;
import dev.jdiffusion.tensor.Device;
import org.junit.jupiter.api.Test;

/** What a user gets asking for {@code cuda} with this module on the class path, on any machine. */
class CudaBackendProviderTest {

    @Test
    void aCudaDeviceIsServedByThisModuleOrFailsWithWhatIsMissing() {
        try (Backend backend = Backends.open(Device.cuda(0), 1)) {
            assertEquals(Device.cuda(0), backend.device());
        } catch (BackendUnavailableException e) {
            String message = e.getMessage();
            System.out.println("cuda:0 here: " + message);
            // without the runtime library, without a driver or GPU, or without cuBLAS or NVRTC
            assertTrue(message.contains(CudaRuntime.RUNTIME_LIBRARY) || message.contains("GPU") || message.contains("needs"),
                    message);
            assertTrue(!message.contains("jdiffusion-kernels-cuda; add it"), "the provider was found: " + message);
        }
    }

    @Test
    void aGpuIndexBeyondTheMachineIsRefused() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.open(Device.cuda(4096), 1));
        assertTrue(e.getMessage().contains(CudaRuntime.RUNTIME_LIBRARY) || e.getMessage().contains("GPU"), e.getMessage());
    }
}
