package dev.jdiffusion.examples;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.models.clip.ClipTextModel;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.tokenizer.ClipTokenizer;
import dev.jdiffusion.tokenizer.TokenizedPrompt;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Turns a prompt into the text embeddings Stable Diffusion conditions on.
 *
 * <pre>EncodePrompt MODEL_FOLDER "a photo of a cat" [CLIP_SKIP]</pre>
 *
 * where {@code MODEL_FOLDER} is a diffusers pipeline folder (with {@code tokenizer/} and
 * {@code text_encoder/}).
 */
public final class EncodePrompt {
    private EncodePrompt() {}

    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: EncodePrompt MODEL_FOLDER PROMPT [CLIP_SKIP]");
            System.exit(2);
        }
        Path model = Path.of(args[0]);
        String prompt = args[1];
        int clipSkip = args.length > 2 ? Integer.parseInt(args[2]) : 0;

        ClipTokenizer tokenizer = ClipTokenizer.load(model.resolve("tokenizer"));
        TokenizedPrompt tokens = tokenizer.encodeForModel(prompt);
        System.out.println("ids: " + Arrays.toString(Arrays.copyOf(tokens.ids(), Arrays.stream(tokens.attentionMask()).sum())));
        if (tokens.truncated()) {
            System.out.println("dropped: \"" + tokens.droppedText() + "\"");
        }

        try (CpuBackend backend = new CpuBackend();
                ClipTextModel encoder = ClipTextModel.load(model.resolve("text_encoder"), backend);
                Tensor embedding = encoder.encode(new int[][] {tokens.ids()}, clipSkip)) {
            float[] values = embedding.toFloatArray();
            double sum = 0;
            double sumOfSquares = 0;
            for (float v : values) {
                sum += v;
                sumOfSquares += (double) v * v;
            }
            double mean = sum / values.length;
            System.out.printf(Locale.ROOT, "embedding %s: mean %.5f, std %.5f, first values %s%n",
                    Arrays.toString(embedding.shape()), mean, Math.sqrt(sumOfSquares / values.length - mean * mean),
                    Arrays.toString(Arrays.copyOf(values, 4)));
        }
    }
}
