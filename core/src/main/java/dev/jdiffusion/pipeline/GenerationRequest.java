package dev.jdiffusion.pipeline;

import dev.jdiffusion.image.Image;
import dev.jdiffusion.image.LanczosResampler;
import dev.jdiffusion.models.vae.LatentDistribution;
import dev.jdiffusion.nn.TextConditioning;
import dev.jdiffusion.random.TorchGenerator;
import dev.jdiffusion.schedulers.Samplers;
import dev.jdiffusion.schedulers.Scheduler;
import dev.jdiffusion.tensor.Tensor;
import java.util.Arrays;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * One generation, configured fluently and run by {@link #generate()}, as diffusers'
 * {@code StableDiffusionPipeline} / {@code StableDiffusionImg2ImgPipeline} run it: classifier-free guidance
 * with the unconditional and conditional halves in one batched U-Net call (skipped at guidance 1), the
 * initial noise and any sampler noise from a torch-compatible generator, so a seed means the same
 * picture as in diffusers on a CPU. Each setter refuses a bad value at once, with an
 * {@link IllegalArgumentException} that names it; what depends on several settings is checked before any
 * heavy work starts.
 */
public final class GenerationRequest {
    private final StableDiffusion model;
    private final String prompt;
    private final Image initImage;
    private String negativePrompt = "";
    private int width = 512;
    private int height = 512;
    private int steps = 25;
    private double guidance = 7.5;
    private Samplers sampler;
    private Long seed;
    private float[] latents;
    private int clipSkip;
    private double strength = 0.8;
    private Consumer<StepProgress> onStep = p -> { };

    GenerationRequest(StableDiffusion model, String prompt, Image initImage) {
        if (prompt == null) {
            throw new IllegalArgumentException("the prompt must not be null (an empty prompt is allowed)");
        }
        this.model = model;
        this.prompt = prompt;
        this.initImage = initImage == null ? null : fittedToTheVae(initImage);
        this.sampler = model.defaultSampler();
        if (initImage != null) {
            this.width = this.initImage.width();
            this.height = this.initImage.height();
        }
    }

    /**
     * The init image as diffusers' {@code VaeImageProcessor} takes it: each side down to a whole multiple of
     * the VAE's downscale, the picture resized (not cropped) to it by Pillow's Lanczos filter.
     */
    private Image fittedToTheVae(Image image) {
        int step = model.vae().config().downscale();
        int width = image.width() / step * step;
        int height = image.height() / step * step;
        if (width == 0 || height == 0) {
            throw new IllegalArgumentException("the init image is " + image.width() + "x" + image.height()
                    + "; img2img needs at least " + step + "x" + step);
        }
        return LanczosResampler.resize(image, width, height);
    }

    public GenerationRequest negativePrompt(String text) {
        this.negativePrompt = text == null ? "" : text;
        return this;
    }

    /**
     * Picture size in pixels, multiples of 8. img2img works at its init image's size, taken down to multiples
     * of the VAE's downscale, 8 for SD ({@link LanczosResampler} resizes to any other).
     */
    public GenerationRequest size(int width, int height) {
        if (initImage != null && (width != initImage.width() || height != initImage.height())) {
            throw new IllegalArgumentException("img2img works at the init image's size, " + initImage.width() + "x"
                    + initImage.height() + "; resize the image (LanczosResampler.resize) instead");
        }
        if (!fitsTheVae(width, height)) {
            throw new IllegalArgumentException("the size must be a positive multiple of " + sizeStep()
                    + " on both sides, got " + width + "x" + height);
        }
        this.width = width;
        this.height = height;
        return this;
    }

    /** Denoising steps, at least 1. */
    public GenerationRequest steps(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        }
        this.steps = steps;
        return this;
    }

    /** Classifier-free guidance scale; 1 or less runs the U-Net once per step without the negative prompt. */
    public GenerationRequest guidance(double scale) {
        if (!(scale >= 0) || Double.isInfinite(scale)) {
            throw new IllegalArgumentException("guidance must be a finite number >= 0, got " + scale);
        }
        this.guidance = scale;
        return this;
    }

    public GenerationRequest scheduler(Samplers sampler) {
        if (sampler == null) {
            throw new IllegalArgumentException("the sampler must not be null (the model's own is the default)");
        }
        this.sampler = sampler;
        return this;
    }

    /** The seed of the torch-compatible generator; a random one (reported in the result) when not given. */
    public GenerationRequest seed(long seed) {
        this.seed = seed;
        return this;
    }

    /** Starting latents {@code [1, 4, height / 8, width / 8]} instead of drawn noise (txt2img only). */
    public GenerationRequest latents(float[] latents) {
        this.latents = latents.clone();
        return this;
    }

    /** Skips the last {@code layers} layers of the text encoder (A1111's "Clip skip" minus one). */
    public GenerationRequest clipSkip(int layers) {
        int last = model.textEncoder().config().numHiddenLayers() - 1;
        if (layers < 0 || layers > last) {
            throw new IllegalArgumentException("clip skip must be in [0, " + last + "], got " + layers + " (A1111's Clip skip "
                    + (layers + 1) + ", which goes from 1 to " + (last + 1) + ")");
        }
        this.clipSkip = layers;
        return this;
    }

    /** img2img: how much of the schedule runs, in (0, 1]; 1 ignores the init image's content. */
    public GenerationRequest strength(double strength) {
        if (initImage == null) {
            throw new IllegalStateException("strength belongs to img2img: txt2img starts from pure noise");
        }
        if (!(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
        }
        this.strength = strength;
        return this;
    }

    /** Called after every step with the progress and the current latents; may cancel. */
    public GenerationRequest onStep(Consumer<StepProgress> callback) {
        this.onStep = callback == null ? p -> { } : callback;
        return this;
    }

    /** What sizes come in: the VAE's downscale (8 for SD), so that a picture maps to whole latents and back. */
    private int sizeStep() {
        return Math.max(8, model.vae().config().downscale());
    }

    private boolean fitsTheVae(int width, int height) {
        int step = sizeStep();
        return width >= step && height >= step && width % step == 0 && height % step == 0;
    }

    /** The one check that needs several settings at once; each setter has checked its own value. */
    private void checkLatents(int factor) {
        int latentCount = 4 * (height / factor) * (width / factor);
        if (latents != null && (initImage != null || latents.length != latentCount)) {
            throw new IllegalArgumentException(initImage != null ? "img2img starts from the init image, not from given latents"
                    : "given latents must hold " + latentCount + " values for " + width + "x" + height + ", got "
                            + latents.length);
        }
    }

    /**
     * Runs the generation: at once, or once the model's generation under way from another thread has ended.
     *
     * @throws IllegalStateException if the model has been closed
     */
    public Result generate() {
        return model.exclusively(this::run);
    }

    private Result run() {
        int factor = model.vae().config().downscale();
        checkLatents(factor);
        long usedSeed = seed != null ? seed : ThreadLocalRandom.current().nextLong(0, 1L << 32);
        TorchGenerator generator = new TorchGenerator(usedSeed);
        int latentHeight = height / factor;
        int latentWidth = width / factor;
        int[] latentShape = {1, model.unet().config().inChannels(), latentHeight, latentWidth};
        boolean guided = guidance > 1.0;

        Scheduler scheduler = sampler.create(model.schedulerConfig());
        scheduler.setTimesteps(steps);
        float[] timesteps = scheduler.timesteps();
        int first = 0;
        float[] x;
        try (Tensor context = conditioning(guided); TextConditioning text = new TextConditioning(context)) {
            doneWith(model.textEncoder()::unloadWeights); // only the model at work stays resident
            if (initImage != null) {
                int initSteps = Math.min((int) (steps * strength), steps);
                first = Math.max(steps - initSteps, 0) * scheduler.order();
                if (first >= timesteps.length) {
                    throw new IllegalArgumentException("strength " + strength + " with " + steps + " steps leaves no step to run");
                }
                x = initialLatents(generator, timesteps[first], scheduler);
                doneWith(model.vae()::unloadWeights);
            } else {
                x = latents != null ? latents.clone() : generator.randn(count(latentShape));
                float sigma = scheduler.initNoiseSigma();
                for (int i = 0; i < x.length; i++) {
                    x[i] = x[i] * sigma;
                }
            }
            int total = timesteps.length - first;
            for (int i = 0; i < total; i++) {
                float t = timesteps[first + i];
                float[] noise = predictNoise(scheduler.scaleModelInput(x, t), t, text, latentShape, guided);
                x = scheduler.step(noise, t, x, generator).prevSample();
                checkFinite(x, i, t);
                StepProgress progress = new StepProgress(i + 1, total, t, x, latentShape);
                onStep.accept(progress);
                if (progress.cancelled()) {
                    throw new CancellationException("generation cancelled after step " + (i + 1) + " of " + total);
                }
            }
        }
        doneWith(model.unet()::unloadWeights);
        Image image = decode(x, latentShape);
        doneWith(model.vae()::unloadWeights);
        return new Result(image, new GenerationParameters(prompt, negativePrompt, width, height, steps, guidance,
                sampler.userName(), usedSeed, clipSkip, initImage != null ? strength : 0, model.name()));
    }

    /** Frees a model's prepared weights now that its part is done, unless the models are kept in memory. */
    private void doneWith(Runnable unloadWeights) {
        if (!model.keepsModelsInMemory()) {
            unloadWeights.run();
        }
    }

    /** {@code [uncond; cond]} ({@code [2, 77, d]}) with guidance, {@code cond} alone without. */
    private Tensor conditioning(boolean guided) {
        try (Tensor cond = model.encodePrompt(prompt, clipSkip)) {
            if (!guided) {
                return model.backend().copy(cond);
            }
            // as diffusers, clip skip applies to the prompt only, not to the negative prompt
            try (Tensor uncond = model.encodePrompt(negativePrompt, 0)) {
                float[] both = concat(uncond.toFloatArray(), cond.toFloatArray());
                return model.backend().fromFloats(both, 2, cond.dim(1), cond.dim(2));
            }
        }
    }

    /**
     * The U-Net's prediction for {@code input}; with guidance, one sample for both texts, which the U-Net runs
     * once up to its first cross-attention.
     */
    private float[] predictNoise(float[] input, float t, TextConditioning text, int[] latentShape, boolean guided) {
        try (Tensor sample = model.backend().fromFloats(input, latentShape);
                Tensor out = model.unet().forward(sample, new float[] {t}, text)) {
            float[] noise = out.toFloatArray();
            if (!guided) {
                return noise;
            }
            int n = input.length;
            float scale = (float) guidance;
            float[] guidedNoise = new float[n];
            for (int i = 0; i < n; i++) {
                float uncond = noise[i];
                guidedNoise[i] = uncond + scale * (noise[n + i] - uncond);
            }
            return guidedNoise;
        }
    }

    /** img2img: the init image encoded, sampled, scaled, and noised to the first timestep. */
    private float[] initialLatents(TorchGenerator generator, float firstTimestep, Scheduler scheduler) {
        float[] pixels = preprocess(initImage);
        LatentDistribution distribution;
        try (Tensor image = model.backend().fromFloats(pixels, 1, 3, height, width)) {
            distribution = model.vae().encode(image);
        }
        float[] sample = distribution.sample(generator);
        float scaling = (float) model.vae().config().scalingFactor();
        for (int i = 0; i < sample.length; i++) {
            sample[i] = sample[i] * scaling;
        }
        float[] noise = generator.randn(sample.length);
        return scheduler.addNoise(sample, noise, firstTimestep);
    }

    /** An RGB image in [0, 1] to the VAE's input: channels-first, {@code 2v - 1}. */
    static float[] preprocess(Image image) {
        int w = image.width();
        int h = image.height();
        float[] rgb = image.rgb();
        float[] out = new float[rgb.length];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < w * h; p++) {
                out[c * w * h + p] = 2.0f * rgb[p * 3 + c] - 1.0f;
            }
        }
        return out;
    }

    private Image decode(float[] x, int[] latentShape) {
        float scaling = (float) model.vae().config().scalingFactor();
        float[] unscaled = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            unscaled[i] = x[i] / scaling;
        }
        float[] decoded;
        model.backend().releaseCachedMemory(); // the U-Net's activation sizes are not the VAE's
        try (Tensor z = model.backend().fromFloats(unscaled, latentShape); Tensor image = model.vae().decode(z)) {
            decoded = image.toFloatArray();
        }
        model.backend().releaseCachedMemory();
        int plane = width * height;
        float[] rgb = new float[plane * 3];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                rgb[p * 3 + c] = Math.min(1f, Math.max(0f, decoded[c * plane + p] / 2 + 0.5f));
            }
        }
        return new Image(width, height, rgb);
    }

    private static void checkFinite(float[] x, int step, float t) {
        for (float v : x) {
            if (!Float.isFinite(v)) {
                throw new IllegalStateException("the latents became non-finite at step " + (step + 1) + " (timestep " + t
                        + "): the weights or settings produce NaN/Inf (wrong dtype, a broken checkpoint?)");
            }
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static int count(int[] shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }
}
