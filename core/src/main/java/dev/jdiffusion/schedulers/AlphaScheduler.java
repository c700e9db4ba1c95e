package dev.jdiffusion.schedulers;

/**
 * The samplers that work on the DDPM scale (DDIM, PNDM, DDPM): latents start as unit noise, the model
 * input is the sample itself, and noising mixes {@code sqrt(a_t) x0 + sqrt(1 - a_t) noise}.
 */
abstract class AlphaScheduler implements Scheduler {
    final SchedulerConfig config;
    final NoiseSchedule schedule;
    /** {@code alphas_cumprod} before the first training step: 1, or {@code alphas_cumprod[0]}. */
    final float finalAlphaCumprod;
    int inferenceSteps;
    float[] timesteps = new float[0];

    AlphaScheduler(SchedulerConfig config) {
        this.config = config;
        this.schedule = new NoiseSchedule(config);
        this.finalAlphaCumprod = config.setAlphaToOne() ? 1f : schedule.alphasCumprod[0];
    }

    static float[] toFloats(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (float) values[i];
        }
        return out;
    }

    /** The integer timesteps of DDIM, PNDM and DDPM for {@code steps} steps, largest first (leading by default). */
    double[] spacedTimesteps(int steps) {
        TimestepSpacing spacing = config.spacingOr(TimestepSpacing.LEADING);
        return spacing == TimestepSpacing.LINSPACE
                ? TimestepSpacing.round(spacing.timesteps(steps, config.numTrainTimesteps(), 0))
                : spacing.timesteps(steps, config.numTrainTimesteps(), config.stepsOffset());
    }

    float alphaCumprod(int t) {
        return t >= 0 ? schedule.alphasCumprod[t] : finalAlphaCumprod;
    }

    /** The training-timestep distance between consecutive inference steps. */
    int stride() {
        return config.numTrainTimesteps() / inferenceSteps;
    }

    @Override
    public float[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public int order() {
        return 1;
    }

    @Override
    public float initNoiseSigma() {
        return 1f;
    }

    @Override
    public float[] scaleModelInput(float[] sample, float timestep) {
        return sample;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, float timestep) {
        float a = schedule.alphasCumprod[(int) timestep];
        float sqrtAlpha = (float) Math.sqrt(a);
        float sqrtOneMinus = (float) Math.sqrt(1f - a);
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = sqrtAlpha * original[i] + sqrtOneMinus * noise[i];
        }
        return out;
    }

    /** The clean sample the model output implies, per prediction type. */
    float[] predictOriginal(float[] modelOutput, float[] sample, float alphaProduct) {
        float betaProduct = 1f - alphaProduct;
        float sqrtAlpha = (float) Math.sqrt(alphaProduct);
        float sqrtBeta = (float) Math.sqrt(betaProduct);
        float[] x0 = new float[sample.length];
        for (int i = 0; i < x0.length; i++) {
            x0[i] = config.predictionType() == PredictionType.EPSILON
                    ? (sample[i] - sqrtBeta * modelOutput[i]) / sqrtAlpha
                    : sqrtAlpha * sample[i] - sqrtBeta * modelOutput[i];
        }
        return x0;
    }

    static void checkSteps(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("the number of steps must be >= 1, got " + steps);
        }
    }
}
