package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;

/**
 * A sampler of the reverse diffusion, equal to its diffusers scheduler: it picks the timesteps, scales
 * the model input, and turns each model output into the next, less noisy sample. Latents are flat float
 * arrays (they are small: 16,384 values at 512x512). A scheduler keeps state between steps (multistep
 * history): make one per generation with {@link Samplers}.
 */
public interface Scheduler {

    /** Prepares {@code steps} inference steps; resets any state. */
    void setTimesteps(int steps);

    /** The timesteps the model is called at, in order (some samplers call at a timestep twice). */
    float[] timesteps();

    /** How many model calls one step of the schedule takes (2 for Heun), as diffusers' {@code order}. */
    int order();

    /** The scale of the initial noise: 1 for DDPM-style samplers, the largest sigma for sigma-based ones. */
    float initNoiseSigma();

    /** The model input for {@code sample} at {@code timestep} (sigma-based samplers divide by sqrt(sigma^2 + 1)). */
    float[] scaleModelInput(float[] sample, float timestep);

    /** One step of the reverse process; draws any noise it needs from {@code generator} (may be null if it needs none). */
    StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator);

    /** {@code original} noised to {@code timestep} with {@code noise} (img2img's starting point). */
    float[] addNoise(float[] original, float[] noise, float timestep);

    /** The result of a step: the next sample, and the predicted clean sample where the sampler computes it. */
    record StepOutput(float[] prevSample, float[] predOriginalSample) {}
}
