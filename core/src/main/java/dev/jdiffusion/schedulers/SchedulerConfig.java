package dev.jdiffusion.schedulers;

import dev.jdiffusion.models.ConfigValues;
import java.nio.file.Path;

/**
 * A {@code scheduler_config.json}: the noise schedule the model was trained with, and the sampler
 * options that every scheduler reads.
 *
 * @param timestepSpacing null means each sampler's own default, as diffusers does for a key it was
 *     not given
 */
public record SchedulerConfig(int numTrainTimesteps, double betaStart, double betaEnd, String betaSchedule,
        PredictionType predictionType, TimestepSpacing timestepSpacing, int stepsOffset, boolean setAlphaToOne,
        boolean useKarrasSigmas) {

    public SchedulerConfig {
        if (!betaSchedule.equals("scaled_linear") && !betaSchedule.equals("linear")) {
            throw new IllegalArgumentException("unsupported beta_schedule '" + betaSchedule + "' (known: scaled_linear, linear)");
        }
        if (numTrainTimesteps < 1) {
            throw new IllegalArgumentException("num_train_timesteps must be >= 1");
        }
    }

    /** Stable Diffusion 1.x's schedule (PNDM's config, as shipped). */
    public static SchedulerConfig sd15() {
        return new SchedulerConfig(1000, 0.00085, 0.012, "scaled_linear", PredictionType.EPSILON, null, 1, false, false);
    }

    public static SchedulerConfig read(Path file) {
        return from(ConfigValues.read(file));
    }

    public static SchedulerConfig from(ConfigValues c) {
        return new SchedulerConfig(
                c.getInt("num_train_timesteps", 1000),
                c.getDouble("beta_start", 0.0001),
                c.getDouble("beta_end", 0.02),
                c.getString("beta_schedule", "linear"),
                PredictionType.fromConfig(c.getString("prediction_type", "epsilon")),
                c.has("timestep_spacing") ? TimestepSpacing.fromConfig(c.getString("timestep_spacing")) : null,
                c.getInt("steps_offset", 0),
                c.getBoolean("set_alpha_to_one", true),
                c.getBoolean("use_karras_sigmas", false));
    }

    /** The same config with another prediction type. */
    public SchedulerConfig withPredictionType(PredictionType type) {
        return new SchedulerConfig(numTrainTimesteps, betaStart, betaEnd, betaSchedule, type, timestepSpacing, stepsOffset,
                setAlphaToOne, useKarrasSigmas);
    }

    /** The same config with or without Karras sigmas. */
    public SchedulerConfig withKarrasSigmas(boolean karras) {
        return new SchedulerConfig(numTrainTimesteps, betaStart, betaEnd, betaSchedule, predictionType, timestepSpacing,
                stepsOffset, setAlphaToOne, karras);
    }

    TimestepSpacing spacingOr(TimestepSpacing samplerDefault) {
        return timestepSpacing != null ? timestepSpacing : samplerDefault;
    }
}
