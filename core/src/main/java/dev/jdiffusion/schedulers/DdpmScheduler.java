package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;

/** diffusers' {@code DDPMScheduler} ({@code fixed_small} variance): ancestral sampling, noise drawn at every t > 0. */
final class DdpmScheduler extends AlphaScheduler {

    DdpmScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        if (steps > config.numTrainTimesteps()) {
            throw new IllegalArgumentException("DDPM can take at most " + config.numTrainTimesteps() + " steps");
        }
        inferenceSteps = steps;
        double[] t = spacedTimesteps(steps);
        timesteps = toFloats(t);
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        int t = (int) timestep;
        int previousT = t - stride();
        float alphaProduct = schedule.alphasCumprod[t];
        float alphaProductPrevious = previousT >= 0 ? schedule.alphasCumprod[previousT] : 1f;
        float betaProduct = 1f - alphaProduct;
        float betaProductPrevious = 1f - alphaProductPrevious;
        float currentAlpha = alphaProduct / alphaProductPrevious;
        float currentBeta = 1f - currentAlpha;
        float[] x0 = predictOriginal(modelOutput, sample, alphaProduct);
        float originalCoefficient = (float) Math.sqrt(alphaProductPrevious) * currentBeta / betaProduct;
        float sampleCoefficient = (float) Math.sqrt(currentAlpha) * betaProductPrevious / betaProduct;
        float[] previous = new float[sample.length];
        for (int i = 0; i < previous.length; i++) {
            previous[i] = originalCoefficient * x0[i] + sampleCoefficient * sample[i];
        }
        if (t > 0) {
            if (generator == null) {
                throw new IllegalArgumentException("DDPM draws noise at every step but the last: give it a generator");
            }
            float[] noise = generator.randn(modelOutput.length);
            float variance = Math.max(1e-20f, betaProductPrevious / betaProduct * currentBeta);
            float deviation = (float) Math.sqrt(variance);
            for (int i = 0; i < previous.length; i++) {
                previous[i] = previous[i] + deviation * noise[i];
            }
        }
        return new StepOutput(previous, x0);
    }
}
