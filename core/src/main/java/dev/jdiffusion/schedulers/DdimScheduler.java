package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;

/** diffusers' {@code DDIMScheduler} with {@code eta = 0}: deterministic, no noise drawn. */
final class DdimScheduler extends AlphaScheduler {

    DdimScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        inferenceSteps = steps;
        double[] t = spacedTimesteps(steps);
        timesteps = toFloats(t);
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        int t = (int) timestep;
        float alphaProduct = alphaCumprod(t);
        float alphaProductPrevious = alphaCumprod(t - stride());
        float betaProduct = 1f - alphaProduct;
        float sqrtAlpha = (float) Math.sqrt(alphaProduct);
        float sqrtBeta = (float) Math.sqrt(betaProduct);
        float[] x0 = predictOriginal(modelOutput, sample, alphaProduct);
        float sqrtAlphaPrevious = (float) Math.sqrt(alphaProductPrevious);
        float direction = (float) Math.sqrt(1f - alphaProductPrevious);
        float[] previous = new float[sample.length];
        for (int i = 0; i < previous.length; i++) {
            float epsilon = config.predictionType() == PredictionType.EPSILON
                    ? modelOutput[i]
                    : sqrtAlpha * modelOutput[i] + sqrtBeta * sample[i];
            previous[i] = sqrtAlphaPrevious * x0[i] + direction * epsilon;
        }
        return new StepOutput(previous, x0);
    }
}
