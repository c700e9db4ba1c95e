package dev.jdiffusion.pipeline;

import java.nio.file.Path;

/** A quick picture of the pipeline fixture (64x64, two steps, fixed seed), to compare ways of loading and running it. */
final class SmallPicture {
    private SmallPicture() {}

    static float[] of(StableDiffusion sd) {
        return sd.txt2img("a photo of a cat wearing a tiny wizard hat").size(64, 64).steps(2).seed(7).generate().image().rgb();
    }

    /** The picture of the model opened from {@code folder} as it is. */
    static float[] fromFolder(Path folder) {
        try (StableDiffusion sd = StableDiffusion.load(folder).open()) {
            return of(sd);
        }
    }
}
