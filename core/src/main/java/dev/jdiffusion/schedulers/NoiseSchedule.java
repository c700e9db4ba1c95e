package dev.jdiffusion.schedulers;

/**
 * The training noise schedule in float32 as torch holds it: {@code betas}, {@code alphas_cumprod}
 * (the product accumulated in double, each entry rounded, as torch's cumprod does), and the
 * corresponding sigmas {@code sqrt((1 - a) / a)}.
 */
final class NoiseSchedule {
    final float[] betas;
    final float[] alphasCumprod;
    /** {@code sqrt((1 - alphas_cumprod) / alphas_cumprod)}, per training timestep, in float32. */
    final float[] sigmas;
    /** {@code log(sigmas)}, float32. */
    final float[] logSigmas;

    NoiseSchedule(SchedulerConfig config) {
        int n = config.numTrainTimesteps();
        betas = new float[n];
        if (config.betaSchedule().equals("scaled_linear")) {
            float[] roots = linspaceFloat((float) Math.sqrt(config.betaStart()), (float) Math.sqrt(config.betaEnd()), n);
            for (int i = 0; i < n; i++) {
                betas[i] = roots[i] * roots[i];
            }
        } else {
            float[] linear = linspaceFloat((float) config.betaStart(), (float) config.betaEnd(), n);
            System.arraycopy(linear, 0, betas, 0, n);
        }
        alphasCumprod = new float[n];
        double product = 1;
        for (int i = 0; i < n; i++) {
            product *= 1f - betas[i];
            alphasCumprod[i] = (float) product;
        }
        sigmas = new float[n];
        logSigmas = new float[n];
        for (int i = 0; i < n; i++) {
            float a = alphasCumprod[i];
            sigmas[i] = (float) Math.sqrt((1f - a) / a);
            logSigmas[i] = (float) Math.log(sigmas[i]);
        }
    }

    /** torch's float32 {@code linspace}: {@code start + i * step} in the first half, {@code end - (n-1-i) * step} after. */
    static float[] linspaceFloat(float start, float end, int n) {
        float[] out = new float[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (n - 1);
        int halfway = n / 2;
        for (int i = 0; i < n; i++) {
            out[i] = i < halfway ? start + step * i : end - step * (n - 1 - i);
        }
        return out;
    }

    /** numpy's {@code interp(t, arange(len(sigmas)), sigmas)} in double. */
    double interpolateSigma(double t) {
        if (t <= 0) {
            return sigmas[0];
        }
        if (t >= sigmas.length - 1) {
            return sigmas[sigmas.length - 1];
        }
        int low = (int) Math.floor(t);
        double w = t - low;
        return sigmas[low] + (sigmas[low + 1] - (double) sigmas[low]) * w;
    }

    /** diffusers' {@code _sigma_to_t}: the fractional training timestep of a sigma, by log-linear interpolation. */
    double sigmaToTimestep(double sigma) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int count = 0;
        for (float logSigmaAtStep : logSigmas) {
            if (logSigma - logSigmaAtStep >= 0) {
                count++;
            }
        }
        // cumsum(dists >= 0).argmax(): the first index where the running count reaches its maximum
        int low = 0;
        int running = 0;
        for (int i = 0; i < logSigmas.length; i++) {
            if (logSigma - logSigmas[i] >= 0) {
                running++;
            }
            if (running == count) {
                low = i;
                break;
            }
        }
        low = Math.min(low, logSigmas.length - 2);
        double lo = logSigmas[low];
        double hi = logSigmas[low + 1];
        double w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
        return (1 - w) * low + w * (low + 1);
    }
}
