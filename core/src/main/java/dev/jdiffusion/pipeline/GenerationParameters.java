package dev.jdiffusion.pipeline;

import java.util.Locale;

/**
 * Everything that determines a picture: with the same model, these reproduce it.
 *
 * @param strength img2img's denoising strength, or 0 for txt2img
 * @param clipSkip 0 for the last layer; A1111's "Clip skip" is this plus one
 */
public record GenerationParameters(String prompt, String negativePrompt, int width, int height, int steps,
        double guidance, String sampler, long seed, int clipSkip, double strength, String model) {

    /**
     * The parameters in the text format of A1111's {@code parameters} PNG chunk, which other tools read:
     * the prompt, a {@code Negative prompt:} line, then {@code Steps: .., Sampler: .., ...}.
     */
    public String toA1111Text() {
        StringBuilder text = new StringBuilder(prompt);
        if (!negativePrompt.isEmpty()) {
            text.append("\nNegative prompt: ").append(negativePrompt);
        }
        text.append(String.format(Locale.ROOT, "\nSteps: %d, Sampler: %s, CFG scale: %s, Seed: %d, Size: %dx%d, Model: %s",
                steps, sampler, trim(guidance), seed, width, height, model));
        if (clipSkip > 0) {
            text.append(", Clip skip: ").append(clipSkip + 1);
        }
        if (strength > 0) {
            text.append(", Denoising strength: ").append(trim(strength));
        }
        return text.toString();
    }

    private static String trim(double value) {
        return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
    }
}
