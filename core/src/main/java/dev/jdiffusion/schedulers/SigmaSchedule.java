package dev.jdiffusion.schedulers;

/**
 * Where a sigma-based sampler places its noise levels, independently of how it steps between them:
 * interpolated at the chosen timesteps (diffusers' default), or Karras et al.'s schedule.
 */
public enum SigmaSchedule {
    /** {@code interp(timesteps, arange(train), sigmas)}. */
    INTERPOLATED,
    /** Evenly spaced in {@code sigma^(1/7)} between the largest and smallest training sigma. */
    KARRAS;

    private static final double RHO = 7.0;

    /** The sigmas for the given timesteps, without the final zero. */
    double[] sigmas(NoiseSchedule schedule, double[] timesteps) {
        double[] out = new double[timesteps.length];
        if (this == INTERPOLATED) {
            for (int i = 0; i < timesteps.length; i++) {
                out[i] = schedule.interpolateSigma(timesteps[i]);
            }
            return out;
        }
        double sigmaMin = schedule.sigmas[0];
        double sigmaMax = schedule.sigmas[schedule.sigmas.length - 1];
        double minInvRho = Math.pow(sigmaMin, 1 / RHO);
        double maxInvRho = Math.pow(sigmaMax, 1 / RHO);
        double[] ramp = TimestepSpacing.linspace(0, 1, timesteps.length);
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), RHO);
        }
        return out;
    }

    /** For Karras: the (rounded) training timesteps these sigmas correspond to. */
    static double[] timestepsOf(NoiseSchedule schedule, double[] sigmas) {
        double[] t = new double[sigmas.length];
        for (int i = 0; i < sigmas.length; i++) {
            t[i] = Math.rint(schedule.sigmaToTimestep(sigmas[i]));
        }
        return t;
    }
}
