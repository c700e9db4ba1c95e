package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;

/**
 * diffusers' {@code EulerAncestralDiscreteScheduler}: an Euler step down to {@code sigma_down}, then fresh
 * noise of size {@code sigma_up} from the generator.
 */
final class EulerAncestralScheduler extends SigmaScheduler {

    EulerAncestralScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int steps) {
        setSigmasAndTimesteps(steps);
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        if (generator == null) {
            throw new IllegalArgumentException("Euler ancestral draws noise every step: give it a generator");
        }
        int index = currentIndex(timestep);
        float sigma = sigmas[index];
        float[] x0 = predictOriginal(modelOutput, sample, sigma);
        float sigmaTo = sigmas[index + 1];
        float sigmaUp = (float) Math.sqrt(sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma));
        float sigmaDown = (float) Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
        float dt = sigmaDown - sigma;
        float[] noise = generator.randn(modelOutput.length);
        float[] previous = new float[sample.length];
        for (int i = 0; i < previous.length; i++) {
            float derivative = (sample[i] - x0[i]) / sigma;
            previous[i] = sample[i] + derivative * dt + noise[i] * sigmaUp;
        }
        stepIndex++;
        return new StepOutput(previous, x0);
    }
}
