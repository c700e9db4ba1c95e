package dev.jdiffusion.examples;

import dev.jdiffusion.pipeline.Result;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.schedulers.Samplers;
import java.nio.file.Path;

/** The shortest text-to-image program: {@code Txt2Img MODEL "prompt" [OUT.png]}. */
public final class Txt2Img {
    private Txt2Img() {}

    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: Txt2Img MODEL PROMPT [OUT.png]");
            System.exit(2);
        }
        try (StableDiffusion sd = StableDiffusion.load(args[0]).open()) {
            Result result = sd.txt2img(args[1])
                    .negativePrompt("blurry, low quality")
                    .size(512, 512).steps(25).guidance(7.5)
                    .scheduler(Samplers.DPMPP_2M_KARRAS)
                    .seed(42)
                    .generate();
            result.save(Path.of(args.length > 2 ? args[2] : "txt2img.png"));
            System.out.println("seed " + result.seed());
        }
    }
}
