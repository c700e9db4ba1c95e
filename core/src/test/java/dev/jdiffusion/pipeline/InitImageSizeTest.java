package dev.jdiffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdiffusion.image.Image;
import dev.jdiffusion.image.LanczosResampler;
import dev.jdiffusion.image.Png;
import dev.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

/** An init image of any size, taken as diffusers takes it: down to multiples of the VAE's downscale, resized. */
class InitImageSizeTest {
    @Test
    void anInitImageOfAnySizeIsResizedDownToWholeLatents() {
        try (StableDiffusion sd = StableDiffusion.load(Fixtures.folder("pipeline")).open()) {
            Image init = Png.read(Fixtures.folder("pipeline").resolve("init_image.png"));
            Image photo = LanczosResampler.resize(init, 70, 67);
            Result fromThePhoto = sd.img2img(photo, "a dog").strength(0.5).steps(4).seed(1).generate();
            // The fixture's VAE has three levels: it downscales by 4, so 70x67 becomes 68x64.
            assertEquals(68, fromThePhoto.image().width());
            assertEquals(64, fromThePhoto.image().height());
            assertEquals(68, fromThePhoto.parameters().width());
            Result fromTheResized = sd.img2img(LanczosResampler.resize(photo, 68, 64), "a dog").strength(0.5).steps(4)
                    .seed(1).generate();
            assertArrayEquals(fromTheResized.image().rgb(), fromThePhoto.image().rgb());
        }
    }
}
