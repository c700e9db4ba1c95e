package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code LMSDiscreteScheduler}: a linear multistep method of order up to 4 on the sigma
 * scale, its coefficients the integrals of Lagrange basis polynomials over each step (exact here by
 * Gauss-Legendre quadrature; the reference integrates numerically).
 */
final class LmsScheduler extends SigmaScheduler {
    private static final int ORDER = 4;
    // 4-point Gauss-Legendre: exact for the degree-3 polynomials integrated here
    private static final double[] NODES = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526};
    private static final double[] WEIGHTS = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538};

    private final List<float[]> derivatives = new ArrayList<>();

    LmsScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int steps) {
        setSigmasAndTimesteps(steps);
        derivatives.clear();
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        int index = currentIndex(timestep);
        float sigma = sigmas[index];
        float[] x0 = predictOriginal(modelOutput, sample, sigma);
        float[] derivative = new float[sample.length];
        for (int i = 0; i < derivative.length; i++) {
            derivative[i] = (sample[i] - x0[i]) / sigma;
        }
        derivatives.add(derivative);
        if (derivatives.size() > ORDER) {
            derivatives.remove(0);
        }
        int order = Math.min(index + 1, ORDER);
        // as diffusers (its zip stops at the shorter list), a run started mid-schedule (img2img) uses the
        // order's coefficients but only the derivatives it has seen
        int terms = Math.min(order, derivatives.size());
        float[] total = new float[sample.length];
        for (int current = 0; current < terms; current++) {
            float coefficient = (float) coefficient(order, index, current);
            float[] d = derivatives.get(derivatives.size() - 1 - current);
            for (int i = 0; i < total.length; i++) {
                total[i] = total[i] + coefficient * d[i];
            }
        }
        float[] previous = new float[sample.length];
        for (int i = 0; i < previous.length; i++) {
            previous[i] = sample[i] + total[i];
        }
        stepIndex++;
        return new StepOutput(previous, x0);
    }

    /** The integral from sigma[t] to sigma[t+1] of the Lagrange basis polynomial of node {@code current}. */
    private double coefficient(int order, int t, int current) {
        double from = sigmas[t];
        double to = sigmas[t + 1];
        double half = (to - from) / 2;
        double middle = (to + from) / 2;
        double integral = 0;
        for (int q = 0; q < NODES.length; q++) {
            double tau = middle + half * NODES[q];
            double product = 1;
            for (int k = 0; k < order; k++) {
                if (k != current) {
                    product *= (tau - sigmas[t - k]) / ((double) sigmas[t - current] - sigmas[t - k]);
                }
            }
            integral += WEIGHTS[q] * product;
        }
        return integral * half;
    }
}
