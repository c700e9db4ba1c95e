package dev.jdiffusion.models.vae;

import dev.jdiffusion.random.TorchGenerator;

/**
 * The diagonal Gaussian the VAE encoder predicts for each latent element, channels-first
 * {@code [batch, latentChannels, height, width]} as in diffusers; log-variance clamped to [-30, 20].
 */
public final class LatentDistribution {
    private final int[] shape;
    private final float[] mean;
    private final float[] logVariance;

    LatentDistribution(int[] shape, float[] mean, float[] rawLogVariance) {
        this.shape = shape.clone();
        this.mean = mean;
        this.logVariance = new float[rawLogVariance.length];
        for (int i = 0; i < rawLogVariance.length; i++) {
            logVariance[i] = Math.min(20f, Math.max(-30f, rawLogVariance[i]));
        }
    }

    public int[] shape() {
        return shape.clone();
    }

    public float[] mean() {
        return mean.clone();
    }

    public float[] logVariance() {
        return logVariance.clone();
    }

    /** {@code exp(0.5 * logVariance)}. */
    public float[] standardDeviation() {
        float[] std = new float[logVariance.length];
        for (int i = 0; i < std.length; i++) {
            std[i] = (float) Math.exp(0.5f * logVariance[i]);
        }
        return std;
    }

    /** {@code mean + std * randn(shape, generator)}: diffusers' {@code latent_dist.sample(generator)}. */
    public float[] sample(TorchGenerator generator) {
        float[] noise = generator.randn(mean.length);
        float[] std = standardDeviation();
        float[] out = new float[mean.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = mean[i] + std[i] * noise[i];
        }
        return out;
    }
}
