package dev.jdiffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.models.unet.UNet2DConditionConfig;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.testing.Fixtures;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a generation keeps in memory: only the model at work holds its packed weights, unless the models are kept
 * in memory between generations.
 */
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
            assertArrayEquals(first, second, "weights packed again give the same picture");
        }
    }

    @Test
    void noStepAddsToTheActivationMemory() {
        try (CpuBackend backend = new CpuBackend(2);
                StableDiffusion sd = StableDiffusion.load(Fixtures.folder("pipeline")).backend(backend).open()) {
            UNet2DConditionConfig config = sd.unet().config();
            List<Long> peakAfterEachStep = new ArrayList<>();
            // a guided step's batch of two at 64x64 latents (512x512 pixels): activations of many sizes, most of
            // them megabytes
            try (Tensor sample = backend.empty(2, config.inChannels(), 64, 64);
                    Tensor context = backend.fromFloats(new float[2 * 77 * config.crossAttentionDim()], 2, 77,
                            config.crossAttentionDim())) {
                sample.data().fill((byte) 0);
                for (int step = 0; step < 4; step++) {
                    sd.unet().forward(sample, new float[] {999 - 250 * step}, context).close();
                    peakAfterEachStep.add(backend.peakActivationBytes());
                }
            }
            long firstStep = peakAfterEachStep.get(0);
            assertTrue(firstStep > 0);
            assertTrue(peakAfterEachStep.stream().allMatch(bytes -> bytes == firstStep),
                    "the steps after the first reuse its memory: " + peakAfterEachStep);
        }
    }

    @Test
    void keptModelsStayPackedBetweenGenerationsAndMakeTheSamePictures() {
        float[] freed;
        try (StableDiffusion sd = StableDiffusion.load(Fixtures.folder("pipeline")).open()) {
            freed = sd.txt2img("a red cube").size(64, 64).steps(2).seed(3).generate().image().rgb();
        }
        try (CpuBackend backend = new CpuBackend(2);
                StableDiffusion sd = StableDiffusion.load(Fixtures.folder("pipeline")).backend(backend)
                        .keepModelsInMemory(true).open()) {
            float[] first = sd.txt2img("a red cube").size(64, 64).steps(2).seed(3).generate().image().rgb();
            long allModels = backend.packedWeightBytes();
            assertTrue(allModels > 0, "the models stay packed after the image");

            List<Long> duringSteps = new ArrayList<>();
            float[] second = sd.txt2img("a red cube").size(64, 64).steps(2).seed(3)
                    .onStep(progress -> duringSteps.add(backend.packedWeightBytes())).generate().image().rgb();
            assertTrue(duringSteps.stream().allMatch(bytes -> bytes == allModels),
                    "every model stays packed through the next generation: " + duringSteps + ", all models " + allModels);
            assertEquals(allModels, backend.packedWeightBytes());
            assertArrayEquals(freed, first, "kept models make the picture freed ones make");
            assertArrayEquals(freed, second);

            sd.unet().unloadWeights();
            assertTrue(backend.packedWeightBytes() < allModels, "a kept model can still be unloaded by hand");
        }
    }
}
