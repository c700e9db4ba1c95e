package dev.jdiffusion.schedulers;

/**
 * How {@code n} inference timesteps are picked from the training timesteps, as diffusers'
 * {@code timestep_spacing} does (each computed in double and rounded as numpy does).
 */
public enum TimestepSpacing {
    /** Multiples of {@code train / n} from 0, plus {@code steps_offset} (DDIM, PNDM, DDPM default). */
    LEADING("leading"),
    /** Down from the last training timestep in strides of {@code train / n}. */
    TRAILING("trailing"),
    /** Evenly from {@code train - 1} down to 0 (Euler, LMS, Heun, DPM-Solver, UniPC default). */
    LINSPACE("linspace");

    private final String configName;

    TimestepSpacing(String configName) {
        this.configName = configName;
    }

    public static TimestepSpacing fromConfig(String name) {
        for (TimestepSpacing s : values()) {
            if (s.configName.equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unsupported timestep_spacing '" + name + "' (known: leading, trailing, linspace)");
    }

    /**
     * The timesteps, largest first, as diffusers' DDIM/DDPM/Euler family compute them.
     *
     * @param train the number of training timesteps (1000)
     */
    double[] timesteps(int steps, int train, int stepsOffset) {
        double[] t = new double[steps];
        switch (this) {
            case LEADING -> {
                int ratio = train / steps;
                for (int i = 0; i < steps; i++) {
                    t[i] = Math.rint((double) (steps - 1 - i) * ratio) + stepsOffset;
                }
            }
            case TRAILING -> {
                double ratio = (double) train / steps;
                for (int i = 0; i < steps; i++) {
                    t[i] = Math.rint(train - i * ratio) - 1;
                }
            }
            case LINSPACE -> {
                double[] ramp = linspace(0, train - 1, steps);
                for (int i = 0; i < steps; i++) {
                    t[i] = ramp[steps - 1 - i];
                }
            }
        }
        return t;
    }

    /** numpy's {@code linspace(start, stop, num)}. */
    static double[] linspace(double start, double stop, int num) {
        double[] out = new double[num];
        if (num == 1) {
            out[0] = start;
            return out;
        }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) {
            out[i] = start + i * step;
        }
        out[num - 1] = stop;
        return out;
    }

    /** numpy's {@code round} of each value (half to even). */
    static double[] round(double[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Math.rint(values[i]);
        }
        return out;
    }
}
