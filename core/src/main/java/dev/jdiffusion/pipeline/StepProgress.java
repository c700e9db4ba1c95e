package dev.jdiffusion.pipeline;

/**
 * Where a generation stands after a denoising step, handed to the step callback: which step of how
 * many, the timestep just done, and the current latents (for previews). Calling {@link #cancel()} stops
 * the generation after this step.
 */
public final class StepProgress {
    private final int step;
    private final int total;
    private final float timestep;
    private final float[] latents;
    private final int[] latentShape;
    private boolean cancelled;

    StepProgress(int step, int total, float timestep, float[] latents, int[] latentShape) {
        this.step = step;
        this.total = total;
        this.timestep = timestep;
        this.latents = latents;
        this.latentShape = latentShape;
    }

    /** The step just completed, from 1. */
    public int step() {
        return step;
    }

    /** How many steps this generation runs. */
    public int total() {
        return total;
    }

    public float timestep() {
        return timestep;
    }

    /** A copy of the latents after this step, {@code [1, 4, height / 8, width / 8]} flattened. */
    public float[] latents() {
        return latents.clone();
    }

    public int[] latentShape() {
        return latentShape.clone();
    }

    /** Asks the generation to stop after this step; {@code generate()} then throws a CancellationException. */
    public void cancel() {
        cancelled = true;
    }

    boolean cancelled() {
        return cancelled;
    }
}
