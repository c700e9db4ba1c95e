package dev.jdiffusion.models.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.models.clip.ClipTextModel;
import dev.jdiffusion.models.unet.UNet2DConditionModel;
import dev.jdiffusion.models.vae.AutoencoderKL;
import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.safetensors.Safetensors;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The full-size networks on synthetic weights of the exact SD 1.5 shapes: the files load into the
 * models as diffusers would name them, and a forward pass at a small latent is finite and well shaped.
 */
class SyntheticSd15Test {
    @TempDir
    static Path folder;

    private static CpuBackend backend;

    @BeforeAll
    static void writeModel() {
        SyntheticStableDiffusion.writeSd15(folder, 7, DType.F16);
        backend = new CpuBackend();
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    @Test
    void theFilesHoldSd15sParameterCounts() {
        assertEquals(859_520_964L, count(folder.resolve("unet/diffusion_pytorch_model.safetensors")));
        assertEquals(83_653_863L, count(folder.resolve("vae/diffusion_pytorch_model.safetensors")));
        assertEquals(123_060_480L, count(folder.resolve("text_encoder/model.safetensors")));
    }

    private static long count(Path file) {
        try (TensorSource source = Safetensors.open(file)) {
            return source.names().stream().mapToLong(n -> source.get(n).elementCount()).sum();
        }
    }

    @Test
    void aGuidedUNetStepAt32x32IsFinite() {
        TorchGenerator random = new TorchGenerator(1);
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(folder.resolve("unet"), backend);
                Tensor latents = backend.fromFloats(random.randn(2 * 4 * 32 * 32), 2, 4, 32, 32);
                Tensor context = backend.fromFloats(random.randn(2 * 77 * 768), 2, 77, 768);
                Tensor out = unet.forward(latents, new float[] {999, 999}, context)) {
            assertArrayEquals(new int[] {2, 4, 32, 32}, out.shape());
            assertFiniteAndAlive(out.toFloatArray(), "U-Net output");
        }
    }

    @Test
    void aVaeDecodeOfA32x32LatentIsFinite() {
        try (AutoencoderKL vae = AutoencoderKL.load(folder.resolve("vae"), backend);
                Tensor latents = backend.fromFloats(new TorchGenerator(2).randn(4 * 32 * 32), 1, 4, 32, 32);
                Tensor image = vae.decode(latents)) {
            assertArrayEquals(new int[] {1, 3, 256, 256}, image.shape());
            assertFiniteAndAlive(image.toFloatArray(), "decoded image");
        }
    }

    @Test
    void theTextEncoderEncodesABatchOfTwo() {
        try (ClipTextModel clip = ClipTextModel.load(folder.resolve("text_encoder"), backend)) {
            int[][] ids = new int[2][77];
            for (int[] row : ids) {
                row[0] = 49406;
                java.util.Arrays.fill(row, 1, 77, 49407);
            }
            try (Tensor embedding = clip.encode(ids, 0)) {
                assertArrayEquals(new int[] {2, 77, 768}, embedding.shape());
                assertFiniteAndAlive(embedding.toFloatArray(), "text embedding");
            }
        }
    }

    @Test
    void theWholeTxt2imgPipelineAt128x128GivesAFiniteImage() throws java.io.IOException {
        // the vocabulary is not ours to ship: the tokenizer comes from the fixtures
        Path tokenizer = dev.jdiffusion.testing.Fixtures.folder("pipeline").resolve("tokenizer");
        Path target = folder.resolve("tokenizer");
        java.nio.file.Files.createDirectories(target);
        try (var files = java.nio.file.Files.list(tokenizer)) {
            for (Path file : files.toList()) {
                java.nio.file.Files.copy(file, target.resolve(file.getFileName()),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        try (var sd = dev.jdiffusion.pipeline.StableDiffusion.load(folder).backend(backend).open()) {
            var result = sd.txt2img("a photo of a cat").negativePrompt("blurry").size(128, 128).steps(2).seed(42).generate();
            assertEquals(128, result.image().width());
            float[] rgb = result.image().rgb();
            for (float v : rgb) {
                assertTrue(v >= 0 && v <= 1, "pixel value " + v);
            }
            assertEquals(42, result.seed());
        }
    }

    private static void assertFiniteAndAlive(float[] values, String what) {
        double sumOfSquares = 0;
        for (float v : values) {
            assertTrue(Float.isFinite(v), what + " has a non-finite value");
            sumOfSquares += (double) v * v;
        }
        double rms = Math.sqrt(sumOfSquares / values.length);
        assertTrue(rms > 1e-3 && rms < 1e3, what + " has an implausible scale: rms " + rms);
    }
}
