package dev.jdiffusion.models.vae;

import dev.jdiffusion.models.ModelFiles;
import dev.jdiffusion.nn.Conv2d;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorSource;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * diffusers' {@code AutoencoderKL}: images to latent distributions and latents back to images. Inputs
 * and outputs are channels-first as in diffusers; images are in [-1, 1]. Neither direction applies
 * {@code scaling_factor}: that is the pipeline's business, as in diffusers.
 */
public final class AutoencoderKL implements AutoCloseable {
    /** Latent tiles of SD's VAE in diffusers' tiled decode: its 512-pixel sample size. */
    private static final int DEFAULT_TILE_LATENTS = 64;

    private final AutoencoderKLConfig config;
    private final Backend backend;
    private final VaeEncoder encoder;
    private final Conv2d quantConv;
    private final Conv2d postQuantConv;
    private final VaeDecoder decoder;
    private final TensorSource ownedSource;
    /** The root of the weights the layers were built from, for {@link #unloadWeights()}. */
    private final Weights weights;

    private AutoencoderKL(AutoencoderKLConfig config, Weights w, TensorSource ownedSource) {
        int latent = config.latentChannels();
        this.config = config;
        this.backend = w.backend();
        this.ownedSource = ownedSource;
        this.weights = w;
        this.encoder = new VaeEncoder(w.at("encoder"), config);
        this.quantConv = Conv2d.same(w.at("quant_conv"), 2 * latent, 2 * latent, 1);
        this.postQuantConv = Conv2d.same(w.at("post_quant_conv"), latent, latent, 1);
        this.decoder = new VaeDecoder(w.at("decoder"), config);
    }

    /** Loads a diffusers {@code vae/} folder. */
    public static AutoencoderKL load(Path folder, Backend backend) {
        return load(folder, null, backend);
    }

    /** Loads the folder, preferring the weights of {@code variant} ({@code "fp16"}, ...; null for the plain ones). */
    public static AutoencoderKL load(Path folder, String variant, Backend backend) {
        return load(folder, variant, null, backend);
    }

    /**
     * As {@link #load(Path, String, Backend)}, the backend holding the weights of the products and convolutions as
     * {@code weightsHeldAs} (F32, F16 or BF16, rounded to the nearest even where narrower; null: as stored).
     */
    public static AutoencoderKL load(Path folder, String variant, DType weightsHeldAs, Backend backend) {
        AutoencoderKLConfig config = AutoencoderKLConfig.read(folder.resolve("config.json"));
        Path file = ModelFiles.weightsIn(folder, "diffusion_pytorch_model", variant);
        return ModelFiles.build(file, backend, weightsHeldAs, "VAE",
                (weights, source) -> new AutoencoderKL(config, weights, source));
    }

    /** Builds the VAE from weights the caller keeps open for its lifetime. */
    public static AutoencoderKL of(AutoencoderKLConfig config, Weights weights) {
        return new AutoencoderKL(config, weights, null);
    }

    public AutoencoderKLConfig config() {
        return config;
    }

    /**
     * @param image {@code [batch, inChannels, height, width]} in [-1, 1], sides multiples of
     *     {@link AutoencoderKLConfig#downscale()}
     */
    public LatentDistribution encode(Tensor image) {
        int f = config.downscale();
        if (image.rank() != 4 || image.dim(1) != config.inChannels() || image.dim(2) % f != 0 || image.dim(3) % f != 0) {
            throw new IllegalArgumentException("VAE encode takes [batch, " + config.inChannels() + ", height, width] with"
                    + " sides multiples of " + f + ", got " + Arrays.toString(image.shape()));
        }
        int batch = image.dim(0);
        int latent = config.latentChannels();
        try (Tensor channelsLast = toChannelsLast(image); Tensor encoded = encoder.forward(channelsLast);
                Tensor moments = quantConv.forward(encoded);
                Tensor mean = backend.narrowLast(moments, 0, latent);
                Tensor logVariance = backend.narrowLast(moments, latent, latent);
                Tensor meanFirst = toChannelsFirst(mean); Tensor logVarianceFirst = toChannelsFirst(logVariance)) {
            return new LatentDistribution(meanFirst.shape(), meanFirst.toFloatArray(), logVarianceFirst.toFloatArray());
        }
    }

    /**
     * Decodes latents to pixels. Latents larger than 64 x 64 (images over 512 x 512) are decoded in
     * overlapping, blended tiles as diffusers' tiled decode does, so memory stays that of a 512 x 512 decode;
     * smaller ones whole, exactly as diffusers' plain decode.
     *
     * @param latents {@code [batch, latentChannels, h, w]}, unscaled; returns {@code [batch, outChannels, h * f, w * f]}
     */
    public Tensor decode(Tensor latents) {
        return decode(latents, DEFAULT_TILE_LATENTS);
    }

    /** As {@link #decode(Tensor)} with tiles of {@code tileLatents} (the tiled path for tests on small models). */
    Tensor decode(Tensor latents, int tileLatents) {
        checkLatents(latents);
        TiledDecode tiling = new TiledDecode(tileLatents, config.downscale());
        return tiling.needed(latents.dim(2), latents.dim(3)) ? tiling.decode(backend, latents, this::decodeWhole)
                : decodeWhole(latents);
    }

    /** Decodes the latents in one piece, whatever their size (memory grows with the image). */
    public Tensor decodeWhole(Tensor latents) {
        checkLatents(latents);
        try (Tensor channelsLast = toChannelsLast(latents); Tensor z = postQuantConv.forward(channelsLast);
                Tensor image = decoder.forward(z)) {
            return toChannelsFirst(image);
        }
    }

    private void checkLatents(Tensor latents) {
        if (latents.rank() != 4 || latents.dim(1) != config.latentChannels()) {
            throw new IllegalArgumentException("VAE decode takes [batch, " + config.latentChannels() + ", height, width], got "
                    + Arrays.toString(latents.shape()));
        }
    }

    private Tensor toChannelsLast(Tensor x) {
        int batch = x.dim(0);
        int channels = x.dim(1);
        int height = x.dim(2);
        int width = x.dim(3);
        return backend.transpose(x.reshape(batch, channels, height * width)).reshapeOwned(batch, height, width, channels);
    }

    private Tensor toChannelsFirst(Tensor x) {
        int batch = x.dim(0);
        int height = x.dim(1);
        int width = x.dim(2);
        int channels = x.dim(3);
        return backend.transpose(x.reshape(batch, height * width, channels)).reshapeOwned(batch, channels, height, width);
    }

    /**
     * Frees the backend's prepared copies of this model's weights (the CPU's packed panels) until its next
     * run, which prepares them again from the weights file. The pipeline calls it once a model's part of a
     * generation is done, so that only the model at work is resident (unless the models are kept in memory:
     * {@code StableDiffusion.Loader.keepModelsInMemory}).
     */
    public void unloadWeights() {
        weights.unloadPrepared();
    }

    @Override
    public void close() {
        encoder.close();
        quantConv.close();
        postQuantConv.close();
        decoder.close();
        if (ownedSource != null) {
            ownedSource.close();
        }
    }
}
