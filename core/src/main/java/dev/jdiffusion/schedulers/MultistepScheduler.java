package dev.jdiffusion.schedulers;

/**
 * The exponential-integrator multistep samplers (DPM-Solver++, UniPC): timesteps from {@code n + 1}
 * evenly spaced points, sigmas interpolated or Karras with a last entry for the final step, and the
 * data prediction {@code x0} as the quantity they extrapolate, in {@code lambda = log(alpha / sigma)}.
 */
abstract class MultistepScheduler extends AlphaScheduler {
    float[] sigmas = new float[0];
    int stepIndex = -1;

    MultistepScheduler(SchedulerConfig config) {
        super(config);
    }

    /** Sets timesteps and sigmas for {@code steps} steps and clears the step index; subclasses reset their history. */
    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        inferenceSteps = steps;
        int train = config.numTrainTimesteps();
        TimestepSpacing spacing = config.spacingOr(TimestepSpacing.LINSPACE);
        double[] t = new double[steps];
        switch (spacing) {
            case LINSPACE -> {
                double[] ramp = TimestepSpacing.linspace(0, train - 1, steps + 1);
                for (int i = 0; i < steps; i++) {
                    t[i] = Math.rint(ramp[steps - i]);
                }
            }
            case LEADING -> {
                int ratio = train / (steps + 1);
                for (int i = 0; i < steps; i++) {
                    t[i] = Math.rint((double) (steps - i) * ratio) + config.stepsOffset();
                }
            }
            case TRAILING -> t = spacing.timesteps(steps, train, config.stepsOffset());
        }
        sigmas = new float[steps + 1];
        if (config.useKarrasSigmas()) {
            double[] karras = SigmaSchedule.KARRAS.sigmas(schedule, t);
            t = SigmaSchedule.timestepsOf(schedule, karras);
            for (int i = 0; i < steps; i++) {
                sigmas[i] = (float) karras[i];
            }
            sigmas[steps] = sigmas[steps - 1];
        } else {
            double[] interpolated = SigmaSchedule.INTERPOLATED.sigmas(schedule, t);
            for (int i = 0; i < steps; i++) {
                sigmas[i] = (float) interpolated[i];
            }
            sigmas[steps] = schedule.sigmas[0];
        }
        timesteps = toFloats(t);
        stepIndex = -1;
    }

    /** Noising at the sigma of {@code timestep} in this schedule (with Karras sigmas, not the training one). */
    @Override
    public float[] addNoise(float[] original, float[] noise, float timestep) {
        float sigma = sigmas[indexOf(timestep)];
        float alphaT = alpha(sigma);
        float sigmaT = sigma * alphaT;
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = alphaT * original[i] + sigmaT * noise[i];
        }
        return out;
    }

    /** The first index of {@code timestep} (the second if it occurs twice; the last step if absent). */
    int indexOf(float timestep) {
        int first = -1;
        for (int i = 0; i < timesteps.length; i++) {
            if (timesteps[i] == timestep) {
                if (first >= 0) {
                    return i;
                }
                first = i;
            }
        }
        return first >= 0 ? first : timesteps.length - 1;
    }

    /** {@code alpha_t = 1 / sqrt(sigma^2 + 1)}. */
    static float alpha(float sigma) {
        return 1f / (float) Math.sqrt(sigma * sigma + 1f);
    }

    /** {@code log(alpha_t) - log(sigma_t)}, with {@code sigma_t = sigma * alpha_t}. */
    static float lambda(float sigma) {
        float a = alpha(sigma);
        return (float) Math.log(a) - (float) Math.log(sigma * a);
    }

    /** The data prediction {@code x0} from the model output at noise level {@code sigma}. */
    float[] dataPrediction(float[] modelOutput, float[] sample, float sigma) {
        float alphaT = alpha(sigma);
        float sigmaT = sigma * alphaT;
        float[] x0 = new float[sample.length];
        for (int i = 0; i < x0.length; i++) {
            x0[i] = config.predictionType() == PredictionType.EPSILON
                    ? (sample[i] - sigmaT * modelOutput[i]) / alphaT
                    : alphaT * sample[i] - sigmaT * modelOutput[i];
        }
        return x0;
    }
}
