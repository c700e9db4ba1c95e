package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;

/**
 * diffusers' {@code EulerDiscreteScheduler} (no churn): {@code x += (x - x0) / sigma * (sigma_next - sigma)}.
 * As diffusers does, it draws (and discards) one noise tensor per step, so a shared generator advances
 * exactly as it does there.
 */
final class EulerScheduler extends SigmaScheduler {

    EulerScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int steps) {
        setSigmasAndTimesteps(steps);
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        int index = currentIndex(timestep);
        float sigma = sigmas[index];
        if (generator != null) {
            generator.randn(modelOutput.length); // drawn for s_churn, unused at 0: keeps the stream aligned
        }
        float[] x0 = predictOriginal(modelOutput, sample, sigma);
        float dt = sigmas[index + 1] - sigma;
        float[] previous = new float[sample.length];
        for (int i = 0; i < previous.length; i++) {
            float derivative = (sample[i] - x0[i]) / sigma;
            previous[i] = sample[i] + derivative * dt;
        }
        stepIndex++;
        return new StepOutput(previous, x0);
    }
}
