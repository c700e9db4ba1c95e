package dev.jdiffusion.schedulers;

import dev.jdiffusion.random.TorchGenerator;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code PNDMScheduler} as Stable Diffusion ships it ({@code skip_prk_steps}: PLMS only): a
 * linear multistep method over up to four past model outputs, whose warm-up calls the model twice at
 * the second timestep.
 */
final class PndmScheduler extends AlphaScheduler {
    private final List<float[]> history = new ArrayList<>();
    private int counter;
    private float[] firstSample;

    PndmScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        inferenceSteps = steps;
        double[] t = spacedTimesteps(steps);
        // ascending order, with the second-to-last repeated, then reversed: [.., t2, t1, t1, t0]
        int n = t.length;
        float[] plms = new float[n + (n > 1 ? 1 : 0)];
        int at = 0;
        for (int i = 0; i < n; i++) {
            plms[at++] = (float) t[i];
            if (i == 1 && n > 1) {
                plms[at++] = (float) t[i];
            }
        }
        if (n == 1) {
            plms = new float[] {(float) t[0]};
        }
        timesteps = plms;
        history.clear();
        counter = 0;
        firstSample = null;
    }

    @Override
    public StepOutput step(float[] modelOutput, float timestep, float[] sample, TorchGenerator generator) {
        int t = (int) timestep;
        int previousT = t - stride();
        if (counter != 1) {
            while (history.size() > 3) {
                history.remove(0);
            }
            history.add(modelOutput);
        } else {
            previousT = t;
            t = t + stride();
        }
        float[] output = new float[modelOutput.length];
        float[] current = sample;
        int n = history.size();
        for (int i = 0; i < output.length; i++) {
            if (n == 1 && counter == 0) {
                output[i] = modelOutput[i];
            } else if (n == 1 && counter == 1) {
                output[i] = (modelOutput[i] + history.get(0)[i]) / 2;
            } else if (n == 2) {
                output[i] = (3 * history.get(1)[i] - history.get(0)[i]) / 2;
            } else if (n == 3) {
                output[i] = (23 * history.get(2)[i] - 16 * history.get(1)[i] + 5 * history.get(0)[i]) / 12;
            } else {
                output[i] = (float) (1.0 / 24) * (55 * history.get(3)[i] - 59 * history.get(2)[i]
                        + 37 * history.get(1)[i] - 9 * history.get(0)[i]);
            }
        }
        if (n == 1 && counter == 0) {
            firstSample = sample;
        } else if (n == 1 && counter == 1) {
            current = firstSample;
            firstSample = null;
        }
        float[] previous = previousSample(current, t, previousT, output);
        counter++;
        return new StepOutput(previous, null);
    }

    /** PNDM's formula (9): the sample at {@code previousT} from the one at {@code t} and the combined output. */
    private float[] previousSample(float[] sample, int t, int previousT, float[] modelOutput) {
        float alphaProduct = alphaCumprod(t);
        float alphaProductPrevious = alphaCumprod(previousT);
        float betaProduct = 1f - alphaProduct;
        float betaProductPrevious = 1f - alphaProductPrevious;
        float[] output = modelOutput;
        if (config.predictionType() == PredictionType.V_PREDICTION) {
            float sqrtAlpha = (float) Math.sqrt(alphaProduct);
            float sqrtBeta = (float) Math.sqrt(betaProduct);
            output = new float[modelOutput.length];
            for (int i = 0; i < output.length; i++) {
                output[i] = sqrtAlpha * modelOutput[i] + sqrtBeta * sample[i];
            }
        }
        float sampleCoefficient = (float) Math.sqrt(alphaProductPrevious / alphaProduct);
        float denominator = alphaProduct * (float) Math.sqrt(betaProductPrevious)
                + (float) Math.sqrt(alphaProduct * betaProduct * alphaProductPrevious);
        float difference = alphaProductPrevious - alphaProduct;
        float[] previous = new float[sample.length];
        for (int i = 0; i < previous.length; i++) {
            previous[i] = sampleCoefficient * sample[i] - difference * output[i] / denominator;
        }
        return previous;
    }
}
