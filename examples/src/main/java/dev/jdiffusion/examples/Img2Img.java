package dev.jdiffusion.examples;

import dev.jdiffusion.image.Png;
import dev.jdiffusion.pipeline.StableDiffusion;
import java.nio.file.Path;

/** Image to image: {@code Img2Img MODEL INIT.png "prompt" [STRENGTH] [OUT.png]}. */
public final class Img2Img {
    private Img2Img() {}

    public static void main(String[] args) {
        if (args.length < 3) {
            System.err.println("usage: Img2Img MODEL INIT.png PROMPT [STRENGTH] [OUT.png]");
            System.exit(2);
        }
        try (StableDiffusion sd = StableDiffusion.load(args[0]).open()) {
            sd.img2img(Png.read(Path.of(args[1])), args[2])
                    .strength(args.length > 3 ? Double.parseDouble(args[3]) : 0.6)
                    .steps(30)
                    .seed(7)
                    .generate()
                    .save(Path.of(args.length > 4 ? args[4] : "img2img.png"));
        }
    }
}
