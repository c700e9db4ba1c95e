package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;

/**
 * diffusers' {@code Timesteps} + {@code TimestepEmbedding}: each timestep as sinusoids of geometric
 * frequencies ({@code [cos | sin]} with {@code flip_sin_to_cos}), then {@code linear_2(act(linear_1(.)))}.
 */
public final class TimestepEmbedding implements AutoCloseable {
    private static final double MAX_PERIOD = 10000;

    private final Backend backend;
    private final int channels;
    private final boolean flipSinToCos;
    private final double frequencyShift;
    private final Linear linear1;
    private final Linear linear2;
    private final Activation activation;

    public TimestepEmbedding(Weights w, int channels, int embeddingDim, boolean flipSinToCos, double frequencyShift,
            Activation activation) {
        this.backend = w.backend();
        this.channels = channels;
        this.flipSinToCos = flipSinToCos;
        this.frequencyShift = frequencyShift;
        this.linear1 = new Linear(w.at("linear_1"), channels, embeddingDim, true);
        this.linear2 = new Linear(w.at("linear_2"), embeddingDim, embeddingDim, true);
        this.activation = activation;
    }

    /**
     * The sinusoidal features {@code [timesteps.length, channels]}, computed in float32 step by step as
     * diffusers does ({@code exp(-ln(10000) * i / (half - shift))}, times t, then sin and cos).
     */
    public float[] sinusoids(float[] timesteps) {
        int half = channels / 2;
        float[] out = new float[timesteps.length * channels];
        float logMaxPeriod = (float) -Math.log(MAX_PERIOD);
        for (int b = 0; b < timesteps.length; b++) {
            for (int i = 0; i < half; i++) {
                float exponent = logMaxPeriod * i / (float) (half - frequencyShift);
                float argument = timesteps[b] * (float) Math.exp(exponent);
                float sin = (float) Math.sin(argument);
                float cos = (float) Math.cos(argument);
                out[b * channels + i] = flipSinToCos ? cos : sin;
                out[b * channels + half + i] = flipSinToCos ? sin : cos;
            }
        }
        return out;
    }

    /** The embedding {@code [timesteps.length, embeddingDim]}. */
    public Tensor forward(float[] timesteps) {
        try (Tensor features = backend.fromFloats(sinusoids(timesteps), timesteps.length, channels);
                Tensor hidden = linear1.forward(features); Tensor activated = backend.activation(hidden, activation)) {
            return linear2.forward(activated);
        }
    }

    @Override
    public void close() {
        linear1.close();
        linear2.close();
    }
}
