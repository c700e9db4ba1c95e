package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;

/**
 * diffusers' {@code DPMSolverMultistepScheduler} as DPM-Solver++(2M) ({@code algorithm_type dpmsolver++},
 * {@code solver_order 2}, midpoint, lower order at the end for fewer than 15 steps), with interpolated or
 * Karras sigmas. Deterministic.
 */
final class DpmSolverMultistepScheduler extends MultistepScheduler {
    private static final int LOWER_ORDER_FINAL_BELOW = 15;

    private float[] previousOutput;
    private int lowerOrderSteps;

    DpmSolverMultistepScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int steps) {
        super.setTimesteps(steps);
        previousOutput = null;
        lowerOrderSteps = 0;
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        if (stepIndex < 0) {
            stepIndex = indexOf(timestep);
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
