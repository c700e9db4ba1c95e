package dev.jdiffusion.examples;

import dev.jdiffusion.image.Image;
import dev.jdiffusion.image.Png;
import dev.jdiffusion.pipeline.StableDiffusion;
import java.nio.file.Path;
import java.util.Map;

/**
 * Previews while sampling: after every step the latents are shown as a small RGB picture (a cheap
 * linear map of SD 1.x's four latent channels, no VAE), written to {@code preview-<step>.png}.
 * {@code StepPreviews MODEL "prompt"}.
 */
public final class StepPreviews {
    /** How SD 1.x's latent channels roughly map to RGB (a well-known least-squares fit). */
    private static final float[][] LATENT_TO_RGB = {
        {0.298f, 0.207f, 0.208f}, {0.187f, 0.286f, 0.173f}, {-0.158f, 0.189f, 0.264f}, {-0.184f, -0.271f, -0.473f}};

    private StepPreviews() {}

    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: StepPreviews MODEL PROMPT");
            System.exit(2);
        }
        try (StableDiffusion sd = StableDiffusion.load(args[0]).open()) {
            sd.txt2img(args[1]).steps(20).seed(1).onStep(progress -> {
                int[] shape = progress.latentShape();
                Png.write(preview(progress.latents(), shape[2], shape[3]), Path.of("preview-" + progress.step() + ".png"),
                        Map.of());
                System.out.println("step " + progress.step() + "/" + progress.total());
            }).generate().save(Path.of("final.png"));
        }
    }

    private static Image preview(float[] latents, int height, int width) {
        float[] rgb = new float[height * width * 3];
        int plane = height * width;
        for (int p = 0; p < plane; p++) {
            for (int c = 0; c < 3; c++) {
                float v = 0;
                for (int k = 0; k < 4; k++) {
                    v += latents[k * plane + p] * LATENT_TO_RGB[k][c];
                }
                rgb[p * 3 + c] = Math.min(1f, Math.max(0f, (v + 1f) / 2f));
            }
        }
        return new Image(width, height, rgb);
    }
}
