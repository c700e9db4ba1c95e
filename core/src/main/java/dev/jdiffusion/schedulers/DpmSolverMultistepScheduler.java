package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;

/**
 * diffusers' {@code DPMSolverMultistepScheduler} as DPM-Solver++(2M) ({@code algorithm_type dpmsolver++},
 * {@code solver_order 2}, midpoint, lower order at the end for fewer than 15 steps), with interpolated or
 * Karras sigmas. Works on the data prediction {@code x0}; deterministic.
 */
final class DpmSolverMultistepScheduler extends AlphaScheduler {
    private static final int LOWER_ORDER_FINAL_BELOW = 15;

    private float[] sigmas = new float[0];
    private float[] previousOutput;
    private int lowerOrderSteps;
    private int stepIndex = -1;

    DpmSolverMultistepScheduler(SchedulerConfig config) {
        super(config);
    }

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
        previousOutput = null;
        lowerOrderSteps = 0;
        stepIndex = -1;
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        if (stepIndex < 0) {
            stepIndex = initialIndex(timestep);
        }
        int n = timesteps.length;
        boolean lowerOrderFinal = stepIndex == n - 1 && n < LOWER_ORDER_FINAL_BELOW;
        float[] x0 = dataPrediction(modelOutput, sample, sigmas[stepIndex]);
        float[] previous = previousOutput == null || lowerOrderSteps < 1 || lowerOrderFinal
                ? firstOrder(x0, sample)
                : secondOrder(x0, previousOutput, sample);
        previousOutput = x0;
        if (lowerOrderSteps < 2) {
            lowerOrderSteps++;
        }
        stepIndex++;
        return new StepOutput(previous, null);
    }

    /** Noising at the sigma of {@code timestep} in this schedule (with Karras sigmas, not the training one). */
    @Override
    public float[] addNoise(float[] original, float[] noise, float timestep) {
        float sigma = sigmas[initialIndex(timestep)];
        float alphaT = alpha(sigma);
        float sigmaT = sigma * alphaT;
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = alphaT * original[i] + sigmaT * noise[i];
        }
        return out;
    }

    private int initialIndex(float timestep) {
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
    private static float alpha(float sigma) {
        return 1f / (float) Math.sqrt(sigma * sigma + 1f);
    }

    private static float lambda(float sigma) {
        float a = alpha(sigma);
        return (float) Math.log(a) - (float) Math.log(sigma * a);
    }

    private float[] dataPrediction(float[] modelOutput, float[] sample, float sigma) {
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

    private float[] firstOrder(float[] x0, float[] sample) {
        float sigmaNext = sigmas[stepIndex + 1];
        float sigmaNow = sigmas[stepIndex];
        float alphaT = alpha(sigmaNext);
        float sigmaT = sigmaNext * alphaT;
        float sigmaS = sigmaNow * alpha(sigmaNow);
        float h = lambda(sigmaNext) - lambda(sigmaNow);
        float ratio = sigmaT / sigmaS;
        float coefficient = alphaT * ((float) Math.exp(-h) - 1f);
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = ratio * sample[i] - coefficient * x0[i];
        }
        return out;
    }

    private float[] secondOrder(float[] m0, float[] m1, float[] sample) {
        float sigmaNext = sigmas[stepIndex + 1];
        float sigmaNow = sigmas[stepIndex];
        float sigmaBefore = sigmas[stepIndex - 1];
        float alphaT = alpha(sigmaNext);
        float sigmaT = sigmaNext * alphaT;
        float sigmaS0 = sigmaNow * alpha(sigmaNow);
        float lambdaT = lambda(sigmaNext);
        float lambdaS0 = lambda(sigmaNow);
        float lambdaS1 = lambda(sigmaBefore);
        float h = lambdaT - lambdaS0;
        float h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        float inverseR0 = 1f / r0;
        float ratio = sigmaT / sigmaS0;
        float coefficient = alphaT * ((float) Math.exp(-h) - 1f);
        float halfCoefficient = 0.5f * coefficient;
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            float d1 = inverseR0 * (m0[i] - m1[i]);
            out[i] = ratio * sample[i] - coefficient * m0[i] - halfCoefficient * d1;
        }
        return out;
    }
}
