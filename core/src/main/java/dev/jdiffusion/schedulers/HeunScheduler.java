package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;

/**
 * diffusers' {@code HeunDiscreteScheduler}: Heun's second-order method, two model calls per step (every
 * timestep after the first is listed twice): an Euler predictor, then the average of both slopes.
 */
final class HeunScheduler extends SigmaScheduler {
    private float[] previousDerivative;
    private float dt;
    private float[] firstOrderSample;

    HeunScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int steps) {
        setSigmasAndTimesteps(steps);
        float[] singleTimesteps = timesteps;
        float[] singleSigmas = sigmas;
        timesteps = new float[2 * steps - 1];
        sigmas = new float[2 * steps];
        timesteps[0] = singleTimesteps[0];
        sigmas[0] = singleSigmas[0];
        for (int i = 1; i < steps; i++) {
            timesteps[2 * i - 1] = singleTimesteps[i];
            timesteps[2 * i] = singleTimesteps[i];
            sigmas[2 * i - 1] = singleSigmas[i];
            sigmas[2 * i] = singleSigmas[i];
        }
        sigmas[2 * steps - 1] = 0f;
        previousDerivative = null;
        firstOrderSample = null;
    }

    @Override
    public int order() {
        return 2;
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        int index = currentIndex(timestep);
        boolean firstOrder = previousDerivative == null;
        float sigma = firstOrder ? sigmas[index] : sigmas[index - 1];
        float sigmaNext = firstOrder ? sigmas[index + 1] : sigmas[index];
        float[] x0 = predictOriginal(modelOutput, sample, firstOrder ? sigma : sigmaNext);
        float[] derivative = new float[sample.length];
        float[] base;
        float step;
        if (firstOrder) {
            for (int i = 0; i < derivative.length; i++) {
                derivative[i] = (sample[i] - x0[i]) / sigma;
            }
            step = sigmaNext - sigma;
            previousDerivative = derivative;
            dt = step;
            firstOrderSample = sample;
            base = sample;
        } else {
            for (int i = 0; i < derivative.length; i++) {
                derivative[i] = (previousDerivative[i] + (sample[i] - x0[i]) / sigmaNext) / 2;
            }
            step = dt;
            base = firstOrderSample;
            previousDerivative = null;
            firstOrderSample = null;
        }
        float[] previous = new float[sample.length];
        for (int i = 0; i < previous.length; i++) {
            previous[i] = base[i] + derivative[i] * step;
        }
        stepIndex++;
        return new StepOutput(previous, x0);
    }
}
