package dev.jdiffusion.weights.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdiffusion.testing.Fixtures;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.WeightsException;
import dev.jdiffusion.weights.safetensors.Safetensors;
import dev.jdiffusion.weights.safetensors.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The single-file (original LDM) layout converted by rules: every tensor of the diffusers folder is
 * found under its diffusers name with its shape, and holds the folder's values rounded to F16 exactly.
 */
class LdmCheckpointTest {

    private static Path folder() {
        return Fixtures.folder("pipeline");
    }

    @Test
    void everyPartMapsOntoTheDiffusersFolderExactly() {
        try (LdmCheckpoint checkpoint = LdmCheckpoint.open(folder().resolve("pipeline_single_file.fp16.safetensors"))) {
            assertEquals(LdmCheckpoint.Family.SD1, checkpoint.family());
            compare(checkpoint.unet(), folder().resolve("unet/diffusion_pytorch_model.safetensors"));
            compare(checkpoint.vae(), folder().resolve("vae/diffusion_pytorch_model.safetensors"));
            compare(checkpoint.textEncoder(), folder().resolve("text_encoder/model.safetensors"));
        }
    }

    private static void compare(TensorSource converted, Path diffusersFile) {
        try (TensorSource reference = Safetensors.open(diffusersFile)) {
            Set<String> expected = new TreeSet<>(reference.names());
            expected.removeIf(n -> n.endsWith("position_ids"));
            assertEquals(expected, new TreeSet<>(converted.names()), "names converted from " + converted.description());
            for (String name : expected) {
                RawTensor want = reference.get(name);
                RawTensor got = converted.get(name);
                assertArrayEquals(want.shape(), got.shape(), name + ": shape");
                assertEquals(DType.F16, got.dtype());
                float[] w = want.toFloatArray();
                float[] g = got.toFloatArray();
                for (int i = 0; i < w.length; i++) {
                    float rounded = Float.float16ToFloat(Float.floatToFloat16(w[i]));
                    if (Float.compare(rounded, g[i]) != 0) {
                        fail(name + " element " + i + ": " + g[i] + ", expected " + w[i] + " rounded to F16 = " + rounded);
                    }
                }
            }
        }
    }

    @Test
    void openClipTextEncodersAreSplitIntoTransformersNamesWithoutTheLastLayer(@TempDir Path dir) {
        int d = 8;
        Path file = dir.resolve("sd2.safetensors");
        SafetensorsWriter w = new SafetensorsWriter()
                .addF32("model.diffusion_model.input_blocks.0.0.weight", new long[] {4, 4, 3, 3}, new float[144])
                .addF32("first_stage_model.quant_conv.weight", new long[] {8, 8, 1, 1}, new float[64])
                .addF32("cond_stage_model.model.token_embedding.weight", new long[] {10, d}, new float[10 * d])
                .addF32("cond_stage_model.model.positional_embedding", new long[] {77, d}, new float[77 * d])
                .addF32("cond_stage_model.model.ln_final.weight", new long[] {d}, new float[d]);
        for (int layer = 0; layer < 3; layer++) {
            float[] inProj = new float[3 * d * d];
            for (int i = 0; i < inProj.length; i++) {
                inProj[i] = i / (d * d); // 0 for q's rows, 1 for k's, 2 for v's
            }
            String block = "cond_stage_model.model.transformer.resblocks." + layer + ".";
            w.addF32(block + "attn.in_proj_weight", new long[] {3L * d, d}, inProj)
                    .addF32(block + "attn.in_proj_bias", new long[] {3L * d}, new float[] {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1,
                            1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2})
                    .addF32(block + "mlp.c_fc.weight", new long[] {4L * d, d}, new float[4 * d * d]);
        }
        w.write(file);
        try (LdmCheckpoint checkpoint = LdmCheckpoint.open(file)) {
            assertEquals(LdmCheckpoint.Family.SD2, checkpoint.family());
            TensorSource text = checkpoint.textEncoder();
            assertTrue(text.contains("text_model.encoder.layers.1.self_attn.v_proj.weight"));
            assertTrue(!text.contains("text_model.encoder.layers.2.self_attn.q_proj.weight"), "the last layer is left out");
            assertArrayEquals(new long[] {d, d}, text.get("text_model.encoder.layers.0.self_attn.k_proj.weight").shape());
            assertEquals(1f, text.get("text_model.encoder.layers.0.self_attn.k_proj.weight").getFloat(d * d - 1));
            assertEquals(2f, text.get("text_model.encoder.layers.0.self_attn.v_proj.bias").getFloat(0));
            assertArrayEquals(new long[] {77, d}, text.get("text_model.embeddings.position_embedding.weight").shape());
            assertTrue(text.contains("text_model.encoder.layers.0.mlp.fc1.weight"));
        }
    }

    @Test
    void pickledAndForeignFilesAreRefusedClearly(@TempDir Path dir) throws Exception {
        Path ckpt = Files.write(dir.resolve("v1-5.ckpt"), new byte[] {1, 2, 3});
        WeightsException pickle = assertThrows(WeightsException.class, () -> LdmCheckpoint.open(ckpt));
        assertTrue(pickle.getMessage().contains("never unpickled") && pickle.getMessage().contains("safetensors"));
        Path other = dir.resolve("lora.safetensors");
        new SafetensorsWriter().addF32("lora_unet_down.alpha", new long[] {1}, new float[] {1}).write(other);
        WeightsException foreign = assertThrows(WeightsException.class, () -> LdmCheckpoint.open(other));
        assertTrue(foreign.getMessage().contains("not a Stable Diffusion checkpoint"), foreign.getMessage());
    }
}
