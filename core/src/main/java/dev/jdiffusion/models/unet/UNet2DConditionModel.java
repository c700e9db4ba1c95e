package dev.jdiffusion.models.unet;

import dev.jdiffusion.models.ModelFiles;
import dev.jdiffusion.nn.Conv2d;
import dev.jdiffusion.nn.GroupNorm;
import dev.jdiffusion.nn.ResnetBlock2D;
import dev.jdiffusion.nn.TextConditioning;
import dev.jdiffusion.nn.TimestepEmbedding;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorSource;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * diffusers' {@code UNet2DConditionModel} for Stable Diffusion 1.x and 2.x, built entirely from its
 * config: time embedding, {@code conv_in}, down blocks, mid block, up blocks with skip connections,
 * {@code conv_norm_out} + SiLU, {@code conv_out}. Weights are read by their diffusers names.
 *
 * <p>Inputs and outputs are channels-first ({@code [batch, channels, height, width]}) as in diffusers;
 * inside, activations are channels-last, where every convolution is one implicit matrix product and
 * the transformer blocks see the pixels as a token sequence without any transposition.
 * Immutable once built; one instance can serve many threads.
 */
public final class UNet2DConditionModel implements AutoCloseable {
    /** Receives named intermediate activations (channels-last) during a forward pass, for debugging. */
    @FunctionalInterface
    public interface ActivationObserver {
        void observe(String name, Tensor channelsLast);
    }

    private final UNet2DConditionConfig config;
    private final Backend backend;
    private final TimestepEmbedding timeEmbedding;
    private final Conv2d convIn;
    private final List<DownBlock> downBlocks = new ArrayList<>();
    private final MidBlock midBlock;
    private final List<UpBlock> upBlocks = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final Conv2d convOut;
    private final TensorSource ownedSource;
    /** The root of the weights the layers were built from, for {@link #unloadWeights()}. */
    private final Weights weights;

    private UNet2DConditionModel(UNet2DConditionConfig config, Weights w, TensorSource ownedSource) {
        this.config = config;
        this.backend = w.backend();
        this.ownedSource = ownedSource;
        this.weights = w;
        int[] channels = config.blockOutChannels();
        this.timeEmbedding = new TimestepEmbedding(w.at("time_embedding"), channels[0], config.timeEmbeddingDim(),
                config.flipSinToCos(), config.freqShift(), Activation.SILU);
        this.convIn = Conv2d.same(w.at("conv_in"), config.inChannels(), channels[0], 3);
        int in = channels[0];
        for (int level = 0; level < config.levels(); level++) {
            downBlocks.add(new DownBlock(w.at("down_blocks").at(level), config, level, in));
            in = channels[level];
        }
        this.midBlock = new MidBlock(w.at("mid_block"), config);
        for (int i = 0; i < config.levels(); i++) {
            upBlocks.add(new UpBlock(w.at("up_blocks").at(i), config, i));
        }
        this.convNormOut = new GroupNorm(w.at("conv_norm_out"), config.normNumGroups(), channels[0], config.normEps());
        this.convOut = Conv2d.same(w.at("conv_out"), channels[0], config.outChannels(), 3);
    }

    /** Loads a diffusers {@code unet/} folder: {@code config.json} and its safetensors weights. */
    public static UNet2DConditionModel load(Path folder, Backend backend) {
        return load(folder, null, backend);
    }

    /** Loads the folder, preferring the weights of {@code variant} ({@code "fp16"}, ...; null for the plain ones). */
    public static UNet2DConditionModel load(Path folder, String variant, Backend backend) {
        return load(folder, variant, null, backend);
    }

    /**
     * As {@link #load(Path, String, Backend)}, the backend holding the weights of the products and convolutions as
     * {@code weightsHeldAs} (F32, F16 or BF16, rounded to the nearest even where narrower; null: as stored).
     */
    public static UNet2DConditionModel load(Path folder, String variant, DType weightsHeldAs, Backend backend) {
        UNet2DConditionConfig config = UNet2DConditionConfig.read(folder.resolve("config.json"));
        Path file = ModelFiles.weightsIn(folder, "diffusion_pytorch_model", variant);
        return ModelFiles.build(file, backend, weightsHeldAs, "U-Net",
                (weights, source) -> new UNet2DConditionModel(config, weights, source));
    }

    /** Builds the model from weights the caller keeps open for the model's lifetime. */
    public static UNet2DConditionModel of(UNet2DConditionConfig config, Weights weights) {
        return new UNet2DConditionModel(config, weights, null);
    }

    public UNet2DConditionConfig config() {
        return config;
    }

    /** The noise prediction for {@code sample}, projecting the text for this pass alone. */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates) {
        return forward(sample, timesteps, encoderHiddenStates, null);
    }

    /**
     * As {@link #forward(Tensor, float[], TextConditioning, ActivationObserver)}, projecting the text for this pass
     * alone; steps of one generation share a {@link TextConditioning} instead.
     */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, ActivationObserver observer) {
        try (TextConditioning text = new TextConditioning(encoderHiddenStates)) {
            return forward(sample, timesteps, text, observer);
        }
    }

    /**
     * The noise prediction for {@code sample}, the text's projections kept by {@code text}; see
     * {@link #forward(Tensor, float[], TextConditioning, ActivationObserver)}.
     */
    public Tensor forward(Tensor sample, float[] timesteps, TextConditioning text) {
        return forward(sample, timesteps, text, null);
    }

    /**
     * The noise prediction for each item of the text conditioning.
     *
     * <p>The sample may be one item shared by every item of the conditioning, as classifier-free guidance's
     * unconditional and conditional halves share the latent. With one timestep for all, the layers before the
     * first cross-attention (the input convolution, the first ResNet block, the first self-attention) then run
     * once instead of once per item, with the same results as on the sample repeated.
     *
     * <p>The cross-attentions' keys and values of the text are those {@code text} keeps, projected by the first
     * pass that needs them: the steps of a generation, which all see the same text, share one conditioning.
     *
     * @param sample {@code [batch, inChannels, height, width]}, or {@code [1, ...]} for every item
     * @param timesteps one timestep per batch item, or one for all
     * @param text the text embeddings ({@link TextConditioning#states}, {@code [batch, tokens, crossAttentionDim]})
     *     and the keys and values kept of them
     * @param observer receives {@code time_embedding}, {@code conv_in}, {@code down_blocks.i}, {@code mid_block}
     *     and {@code up_blocks.i} as they are computed (channels-last; of one item where they are shared); may be
     *     null
     * @return {@code [batch, outChannels, height, width]}
     */
    public Tensor forward(Tensor sample, float[] timesteps, TextConditioning text, ActivationObserver observer) {
        int batch = checkInputs(sample, timesteps, text.states());
        boolean oneTimestep = allEqual(timesteps);
        if (sample.dim(0) != batch && !oneTimestep) {
            // each item has its own time embedding from the first ResNet block on: nothing to share
            try (Tensor repeated = backend.repeatBatch(sample, batch)) {
                return forward(repeated, timesteps, text, observer);
            }
        }
        int sampleBatch = sample.dim(0);
        int height = sample.dim(2);
        int width = sample.dim(3);
        ActivationObserver observe = observer == null ? (name, t) -> { } : observer;

        Deque<Tensor> skips = new ArrayDeque<>();
        Tensor h = null;
        try (Tensor embedding = timeEmbedding.forward(oneTimestep ? new float[] {timesteps[0]} : timesteps);
                Tensor siluEmbedding = ResnetBlock2D.siluOf(backend, embedding)) {
            observe.observe("time_embedding", embedding);
            try (Tensor channelsFirst = sample.reshape(sampleBatch, config.inChannels(), height * width);
                    Tensor channelsLast = backend.transpose(channelsFirst)) {
                skips.addLast(convIn.forward(channelsLast.reshape(sampleBatch, height, width, config.inChannels())));
            }
            observe.observe("conv_in", skips.peekLast());
            for (int i = 0; i < downBlocks.size(); i++) {
                downBlocks.get(i).forward(skips, siluEmbedding, text);
                observe.observe("down_blocks." + i, skips.peekLast());
            }
            repeatSharedStates(skips, batch);
            h = midBlock.forward(skips.peekLast(), siluEmbedding, text);
            observe.observe("mid_block", h);
            for (int i = 0; i < upBlocks.size(); i++) {
                Tensor next = upBlocks.get(i).forward(h, skips, siluEmbedding, text);
                h.close();
                h = next;
                observe.observe("up_blocks." + i, h);
            }
            Tensor out;
            try (Tensor normed = convNormOut.forwardSilu(h); Tensor convolved = convOut.forward(normed)) {
                out = backend.transpose(convolved.reshape(batch, height * width, config.outChannels()));
            }
            return out.reshapeOwned(batch, config.outChannels(), height, width);
        } finally {
            if (h != null) {
                h.close();
            }
            skips.forEach(Tensor::close);
        }
    }

    /** Checks the inputs' shapes; returns the batch, the conditioning's. */
    private int checkInputs(Tensor sample, float[] timesteps, Tensor encoderHiddenStates) {
        if (sample.rank() != 4 || sample.dim(1) != config.inChannels()) {
            throw new IllegalArgumentException("U-Net input must be [batch, " + config.inChannels()
                    + ", height, width], got " + Arrays.toString(sample.shape()));
        }
        if (encoderHiddenStates.rank() != 3 || encoderHiddenStates.dim(2) != config.crossAttentionDim()
                || (encoderHiddenStates.dim(0) != sample.dim(0) && sample.dim(0) != 1)) {
            throw new IllegalArgumentException("text conditioning must be [" + sample.dim(0) + ", tokens, "
                    + config.crossAttentionDim() + "] (or [batch, tokens, " + config.crossAttentionDim()
                    + "] for a sample shared by every item), got " + Arrays.toString(encoderHiddenStates.shape()));
        }
        int batch = encoderHiddenStates.dim(0);
        if (timesteps.length != 1 && timesteps.length != batch) {
            throw new IllegalArgumentException("give one timestep, or one per batch item (" + batch + "), not "
                    + timesteps.length);
        }
        return batch;
    }

    private static boolean allEqual(float[] timesteps) {
        for (float t : timesteps) {
            if (Float.compare(t, timesteps[0]) != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Repeats the states still shared (those before the first cross-attention, which the up blocks read back) to
     * the whole batch.
     */
    private void repeatSharedStates(Deque<Tensor> skips, int batch) {
        for (int i = skips.size(); i > 0; i--) {
            Tensor state = skips.removeFirst();
            if (state.dim(0) == batch) {
                skips.addLast(state);
            } else {
                try (state) {
                    skips.addLast(backend.repeatBatch(state, batch));
                }
            }
        }
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
        timeEmbedding.close();
        convIn.close();
        downBlocks.forEach(DownBlock::close);
        midBlock.close();
        upBlocks.forEach(UpBlock::close);
        convNormOut.close();
        convOut.close();
        if (ownedSource != null) {
            ownedSource.close();
        }
    }
}
