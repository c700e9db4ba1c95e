package dev.jdiffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.models.unet.UNet2DConditionConfig;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.testing.Fixtures;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a generation keeps in memory: only the model at work holds its packed weights. */
class ResidentWeightsTest {

    @Test
    void onlyTheUNetIsPackedDuringTheStepsAndNothingAfterTheImage() {
        try (CpuBackend backend = new CpuBackend(2);
                StableDiffusion sd = StableDiffusion.load(Fixtures.folder("pipeline")).backend(backend).open()) {
            assertEquals(0, backend.packedWeightBytes(), "opening reads no weight");
            List<Long> duringSteps = new ArrayList<>();
            float[] first = sd.txt2img("a red cube").size(64, 64).steps(2).seed(3)
                    .onStep(progress -> duringSteps.add(backend.packedWeightBytes())).generate().image().rgb();
            assertEquals(0, backend.packedWeightBytes(), "every model unloaded once the image is made");

            UNet2DConditionConfig config = sd.unet().config();
            try (Tensor sample = backend.empty(2, config.inChannels(), 8, 8);
                    Tensor context = backend.fromFloats(new float[2 * 77 * config.crossAttentionDim()], 2, 77,
                            config.crossAttentionDim())) {
                sample.data().fill((byte) 0);
                sd.unet().forward(sample, new float[] {1}, context).close();
            }
            long unetAlone = backend.packedWeightBytes();
            assertTrue(unetAlone > 0);
            assertTrue(!duringSteps.isEmpty() && duringSteps.stream().allMatch(bytes -> bytes == unetAlone),
                    "the text encoder is unloaded before the steps: " + duringSteps + ", the U-Net alone " + unetAlone);
            sd.unet().unloadWeights();

            float[] second = sd.txt2img("a red cube").size(64, 64).steps(2).seed(3).generate().image().rgb();
            org.junit.jupiter.api.Assertions.assertArrayEquals(first, second, "weights packed again give the same picture");
        }
    }
}
