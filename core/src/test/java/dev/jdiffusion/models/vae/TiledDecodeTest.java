package dev.jdiffusion.models.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

/**
 * The tiled decode on the fixture VAE with 8-latent tiles (stride 6, a 2x VAE: 16-pixel tiles, blends over
 * 4 pixels, 12 kept): small latents decode whole, and a large one is made of independently decoded tiles,
 * blended as diffusers' tiled decode blends them.
 */
class TiledDecodeTest {
    private static final int TILE = 8;

    @Test
    void latentsUpToOneTileDecodeWholeAndLargerOnesFromBlendedTiles() {
        try (CpuBackend backend = new CpuBackend(2); AutoencoderKL vae = AutoencoderKL.load(Fixtures.folder("vae"), backend)) {
            int f = vae.config().downscale();
            float[] small = new TorchGenerator(1).randn(4 * TILE * TILE);
            try (Tensor z = backend.fromFloats(small, 1, 4, TILE, TILE); Tensor tiled = vae.decode(z, TILE);
                    Tensor whole = vae.decodeWhole(z)) {
                assertArrayEquals(whole.toFloatArray(), tiled.toFloatArray(), "one tile: the plain decode");
            }

            int h = 11;
            int w = 15;
            float[] large = new TorchGenerator(2).randn(4 * h * w);
            float[] image;
            try (Tensor z = backend.fromFloats(large, 1, 4, h, w); Tensor tiled = vae.decode(z, TILE)) {
                assertArrayEquals(new int[] {1, 3, h * f, w * f}, tiled.shape());
                image = tiled.toFloatArray();
            }
            int stride = TILE * 3 / 4;
            int blend = TILE * f / 4;
            int keep = TILE * f - blend;
            float[] first = decodeCrop(backend, vae, large, h, w, 0, 0);
            float[] second = decodeCrop(backend, vae, large, h, w, 0, stride);
            int tileSide = TILE * f;
            int height = h * f;
            int width = w * f;
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < keep; y++) {
                    for (int x = 0; x < keep; x++) {
                        assertEquals(first[(c * tileSide + y) * tileSide + x], image[(c * height + y) * width + x],
                                "the first tile as decoded alone, at " + c + "," + y + "," + x);
                    }
                    for (int x = 0; x < blend; x++) {
                        float weight = (float) x / blend;
                        float expected = first[(c * tileSide + y) * tileSide + tileSide - blend + x] * (1 - weight)
                                + second[(c * tileSide + y) * tileSide + x] * weight;
                        assertEquals(expected, image[(c * height + y) * width + stride * f + x], 1e-6,
                                "the seam fades from the first tile into the second, at " + c + "," + y + "," + x);
                    }
                }
            }
        }
    }

    /** The plain decode of the {@code TILE x TILE} latents at {@code (y0, x0)}. */
    private static float[] decodeCrop(CpuBackend backend, AutoencoderKL vae, float[] z, int h, int w, int y0, int x0) {
        float[] crop = new float[4 * TILE * TILE];
        for (int c = 0; c < 4; c++) {
            for (int y = 0; y < TILE; y++) {
                System.arraycopy(z, (c * h + y0 + y) * w + x0, crop, (c * TILE + y) * TILE, TILE);
            }
        }
        try (Tensor t = backend.fromFloats(crop, 1, 4, TILE, TILE); Tensor out = vae.decodeWhole(t)) {
            return out.toFloatArray();
        }
    }
}
