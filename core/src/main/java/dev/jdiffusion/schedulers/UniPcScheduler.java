package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;

/**
 * diffusers' {@code UniPCMultistepScheduler} with its defaults: order 2, the B(h) = expm1(h) variant
 * ({@code bh2}), data prediction, lower order at the end. Each step first corrects the previous step's
 * result with the fresh model output (UniC), then predicts the next sample (UniP).
 */
final class UniPcScheduler extends MultistepScheduler {
    private static final int SOLVER_ORDER = 2;

    /** Converted model outputs, newest last. */
    private final float[][] outputs = new float[SOLVER_ORDER][];
    private float[] lastSample;
    private int lowerOrderSteps;
    private int thisOrder;

    UniPcScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int steps) {
        super.setTimesteps(steps);
        outputs[0] = null;
        outputs[1] = null;
        lastSample = null;
        lowerOrderSteps = 0;
        thisOrder = 0;
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        if (stepIndex < 0) {
            stepIndex = indexOf(timestep);
        }
        float[] converted = dataPrediction(modelOutput, sample, sigmas[stepIndex]);
        float[] current = sample;
        if (stepIndex > 0 && lastSample != null) {
            current = correct(converted, lastSample, sample, thisOrder);
        }
        outputs[0] = outputs[1];
        outputs[1] = converted;
        int order = Math.min(SOLVER_ORDER, timesteps.length - stepIndex);
        thisOrder = Math.min(order, lowerOrderSteps + 1);
        lastSample = current;
        float[] previous = predict(current, thisOrder);
        if (lowerOrderSteps < SOLVER_ORDER) {
            lowerOrderSteps++;
        }
        stepIndex++;
        return new StepOutput(previous, null);
    }

    /** UniP: the sample at the next sigma from the newest outputs (order 2 uses the fixed weight 1/2). */
    private float[] predict(float[] x, int order) {
        float sigmaT = sigmas[stepIndex + 1];
        float sigmaS0 = sigmas[stepIndex];
        float alphaT = alpha(sigmaT);
        float h = lambda(sigmaT) - lambda(sigmaS0);
        float[] m0 = outputs[1];
        float rk = 0f;
        if (order == 2) {
            rk = (lambda(sigmas[stepIndex - 1]) - lambda(sigmaS0)) / h;
        }
        float hh = -h;
        float hPhi1 = (float) Math.expm1(hh);
        float bh = (float) Math.expm1(hh);
        float ratio = (sigmaT * alphaT) / (sigmaS0 * alpha(sigmaS0));
        float coefficient = alphaT * hPhi1;
        float correction = alphaT * bh;
        float[] out = new float[x.length];
        for (int i = 0; i < out.length; i++) {
            float value = ratio * x[i] - coefficient * m0[i];
            if (order == 2) {
                float d1 = (outputs[0][i] - m0[i]) / rk;
                value = value - correction * (0.5f * d1);
            }
            out[i] = value;
        }
        return out;
    }

    /** UniC: the previous step's result corrected with this step's model output {@code modelT}. */
    private float[] correct(float[] modelT, float[] x, float[] xT, int order) {
        float sigmaT = sigmas[stepIndex];
        float sigmaS0 = sigmas[stepIndex - 1];
        float alphaT = alpha(sigmaT);
        float lambdaS0 = lambda(sigmaS0);
        float h = lambda(sigmaT) - lambdaS0;
        float[] m0 = outputs[1];
        float rk = 1f;
        if (order == 2) {
            rk = (lambda(sigmas[stepIndex - 2]) - lambdaS0) / h;
        }
        float hh = -h;
        float hPhi1 = (float) Math.expm1(hh);
        float bh = (float) Math.expm1(hh);
        float hPhiK = hPhi1 / hh - 1f;
        float b1 = hPhiK * 1f / bh;
        hPhiK = hPhiK / hh - 1f / 2f;
        float b2 = hPhiK * 2f / bh;
        float rhoPrevious = 0f;
        float rhoCurrent;
        if (order == 1) {
            rhoCurrent = 0.5f;
        } else {
            float[] rho = solve2x2(1f, 1f, rk, 1f, b1, b2);
            rhoPrevious = rho[0];
            rhoCurrent = rho[1];
        }
        float ratio = (sigmaT * alphaT) / (sigmaS0 * alpha(sigmaS0));
        float coefficient = alphaT * hPhi1;
        float correction = alphaT * bh;
        float[] out = new float[x.length];
        for (int i = 0; i < out.length; i++) {
            float base = ratio * x[i] - coefficient * m0[i];
            float residual = order == 2 ? rhoPrevious * ((outputs[0][i] - m0[i]) / rk) : 0f;
            out[i] = base - correction * (residual + rhoCurrent * (modelT[i] - m0[i]));
        }
        return out;
    }

    /** {@code [[a, b], [c, d]] x = [e, f]} by LU with partial pivoting, in float32 as LAPACK's sgesv. */
    private static float[] solve2x2(float a, float b, float c, float d, float e, float f) {
        if (Math.abs(c) > Math.abs(a)) {
            return solve2x2(c, d, a, b, f, e); // pivot: the rows swapped, the unknowns unchanged
        }
        float l = c * (1f / a);
        float u = d - l * b;
        float y = f - l * e;
        float x1 = y / u;
        float x0 = (e - b * x1) / a;
        return new float[] {x0, x1};
    }
}
