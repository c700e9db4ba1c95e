package dev.jdiffusion.examples;

import dev.jdiffusion.pipeline.StableDiffusion;
import java.util.concurrent.CancellationException;

/**
 * Stopping a generation from outside: a deadline here, a UI button in an application. The step callback
 * checks it and cancels; {@code generate()} then throws {@link CancellationException}.
 * {@code Cancellation MODEL "prompt" SECONDS}.
 */
public final class Cancellation {
    private Cancellation() {}

    public static void main(String[] args) {
        if (args.length < 3) {
            System.err.println("usage: Cancellation MODEL PROMPT SECONDS");
            System.exit(2);
        }
        long deadline = System.nanoTime() + (long) (Double.parseDouble(args[2]) * 1e9);
        try (StableDiffusion sd = StableDiffusion.load(args[0]).open()) {
            sd.txt2img(args[1]).steps(50).onStep(progress -> {
                if (System.nanoTime() > deadline) {
                    progress.cancel();
                }
            }).generate();
            System.out.println("finished in time");
        } catch (CancellationException e) {
            System.out.println("stopped: " + e.getMessage());
        }
    }
}
