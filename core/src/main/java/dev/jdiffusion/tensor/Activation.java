package dev.jdiffusion.tensor;

import java.util.Locale;

/** Pointwise nonlinearities, named as model configs name them. */
public enum Activation {
    /** x (no activation). */
    IDENTITY("identity"),
    /** Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), as torch's default and SD2's OpenCLIP use. */
    GELU("gelu"),
    /** x * sigmoid(1.702 x), the approximation of OpenAI's CLIP (SD1.x's text encoder). */
    QUICK_GELU("quick_gelu"),
    /** x * sigmoid(x), also called swish. */
    SILU("silu");

    private final String configName;

    Activation(String configName) {
        this.configName = configName;
    }

    /** The name used in {@code config.json} ({@code hidden_act}, {@code act_fn}). */
    public String configName() {
        return configName;
    }

    /** The activation a config names; an error listing the known names for anything else. */
    public static Activation fromConfig(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.equals("swish")) {
            return SILU;
        }
        for (Activation a : values()) {
            if (a.configName.equals(n)) {
                return a;
            }
        }
        throw new IllegalArgumentException("unsupported activation '" + name
                + "': known are gelu, quick_gelu, silu (swish), identity");
    }
}
