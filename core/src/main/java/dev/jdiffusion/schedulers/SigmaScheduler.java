package dev.jdiffusion.schedulers;

/**
 * The samplers that work on the sigma scale (Euler, Euler ancestral, LMS, Heun): latents start as noise
 * times the largest sigma, the model input is divided by {@code sqrt(sigma^2 + 1)}, and noising adds
 * {@code sigma * noise}. Steps are tracked by index from the first timestep seen, as diffusers does.
 */
abstract class SigmaScheduler implements Scheduler {
    final SchedulerConfig config;
    final NoiseSchedule schedule;
    final SigmaSchedule sigmaSchedule;
    float[] timesteps = new float[0];
    /** One sigma per timestep and a final 0. */
    float[] sigmas = new float[0];
    int stepIndex = -1;

    SigmaScheduler(SchedulerConfig config) {
        this.config = config;
        this.schedule = new NoiseSchedule(config);
        this.sigmaSchedule = config.useKarrasSigmas() ? SigmaSchedule.KARRAS : SigmaSchedule.INTERPOLATED;
    }

    /** Sets {@link #timesteps} and {@link #sigmas} for {@code steps} steps (one call each). */
    void setSigmasAndTimesteps(int steps) {
        AlphaScheduler.checkSteps(steps);
        TimestepSpacing spacing = config.spacingOr(TimestepSpacing.LINSPACE);
        double[] t = spacing.timesteps(steps, config.numTrainTimesteps(), config.stepsOffset());
        if (spacing == TimestepSpacing.LINSPACE) {
            for (int i = 0; i < t.length; i++) {
                t[i] = (float) t[i]; // numpy's linspace here is float32
            }
        }
        double[] s = sigmaSchedule.sigmas(schedule, t);
        if (sigmaSchedule == SigmaSchedule.KARRAS) {
            t = SigmaSchedule.timestepsOf(schedule, s);
        }
        timesteps = AlphaScheduler.toFloats(t);
        sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++) {
            sigmas[i] = (float) s[i];
        }
        stepIndex = -1;
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
        float max = 0f;
        for (float s : sigmas) {
            max = Math.max(max, s);
        }
        TimestepSpacing spacing = config.spacingOr(TimestepSpacing.LINSPACE);
        return spacing == TimestepSpacing.LEADING ? (float) Math.sqrt(max * max + 1f) : max;
    }

    /** diffusers' {@code _init_step_index}: the first index of {@code timestep}, the second when it occurs twice. */
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
        if (first < 0) {
            throw new IllegalArgumentException("timestep " + timestep + " is not one of this schedule's timesteps");
        }
        return first;
    }

    int currentIndex(float timestep) {
        if (stepIndex < 0) {
            stepIndex = indexOf(timestep);
        }
        return stepIndex;
    }

    @Override
    public float[] scaleModelInput(float[] sample, float timestep) {
        float sigma = sigmas[currentIndex(timestep)];
        float scale = (float) Math.sqrt(sigma * sigma + 1f);
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = sample[i] / scale;
        }
        return out;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, float timestep) {
        float sigma = sigmas[indexOf(timestep)];
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = original[i] + noise[i] * sigma;
        }
        return out;
    }

    /** The clean sample the model output implies at noise level {@code sigma}. */
    float[] predictOriginal(float[] modelOutput, float[] sample, float sigma) {
        float[] x0 = new float[sample.length];
        float vScale = -sigma / (float) Math.sqrt(sigma * sigma + 1f);
        float sampleScale = sigma * sigma + 1f;
        for (int i = 0; i < x0.length; i++) {
            x0[i] = config.predictionType() == PredictionType.EPSILON
                    ? sample[i] - sigma * modelOutput[i]
                    : modelOutput[i] * vScale + sample[i] / sampleScale;
        }
        return x0;
    }
}
