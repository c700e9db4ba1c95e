package dev.jdiffusion.models.clip;

import dev.jdiffusion.models.ModelFiles;
import dev.jdiffusion.nn.LayerNorm;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * CLIP's text transformer, as transformers' {@code CLIPTextModel}: token and position embeddings,
 * pre-norm causal transformer layers, a final layer norm, and pooling at the EOS token. Weights are
 * read by their transformers names ({@code text_model.encoder.layers.N.self_attn.q_proj.weight}, ...).
 * Immutable once built; one instance can serve many threads.
 */
public final class ClipTextModel implements AutoCloseable {
    private static final String PREFIX = "text_model";
    private final ClipTextConfig config;
    private final Backend backend;
    /** The token table stays in the weights file (49408 rows in SD1.5): a prompt reads only its own rows. */
    private final RawTensor tokenEmbedding;
    private final Tensor positionEmbedding;
    private final List<ClipEncoderLayer> layers;
    private final LayerNorm finalLayerNorm;
    private final TensorSource ownedSource;
    /** The root of the weights the layers were built from, for {@link #unloadWeights()}. */
    private final Weights weights;

    private ClipTextModel(ClipTextConfig config, Weights weights, TensorSource ownedSource) {
        this.config = config;
        this.backend = weights.backend();
        this.ownedSource = ownedSource;
        this.weights = weights;
        Weights w = weights.at(PREFIX);
        this.tokenEmbedding = w.at("embeddings.token_embedding").raw("weight", config.vocabSize(), config.hiddenSize());
        this.positionEmbedding = w.at("embeddings.position_embedding")
                .tensor("weight", config.maxPositionEmbeddings(), config.hiddenSize());
        List<ClipEncoderLayer> built = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            built.add(new ClipEncoderLayer(w.at("encoder.layers").at(i), config));
        }
        this.layers = List.copyOf(built);
        this.finalLayerNorm = new LayerNorm(w.at("final_layer_norm"), config.hiddenSize(), config.layerNormEps());
    }

    /**
     * Loads a transformers text-encoder folder: {@code config.json} and {@code model.safetensors} (or
     * its sharded index).
     */
    public static ClipTextModel load(Path folder, Backend backend) {
        return load(folder, null, backend);
    }

    /** Loads the folder, preferring the weights of {@code variant} ({@code "fp16"}, ...; null for the plain ones). */
    public static ClipTextModel load(Path folder, String variant, Backend backend) {
        return load(folder, variant, null, backend);
    }

    /**
     * As {@link #load(Path, String, Backend)}, the backend holding the weights of the products and convolutions as
     * {@code weightsHeldAs} (F32, F16 or BF16, rounded to the nearest even where narrower; null: as stored).
     */
    public static ClipTextModel load(Path folder, String variant, DType weightsHeldAs, Backend backend) {
        ClipTextConfig config = ClipTextConfig.read(folder.resolve("config.json"));
        Path file = ModelFiles.weightsIn(folder, "model", variant);
        return ModelFiles.build(file, backend, weightsHeldAs, "text encoder",
                (weights, source) -> new ClipTextModel(config, weights, source));
    }

    /** Builds the model from weights the caller keeps open for the model's lifetime. */
    public static ClipTextModel of(ClipTextConfig config, Weights weights) {
        return new ClipTextModel(config, weights, null);
    }

    public ClipTextConfig config() {
        return config;
    }

    /** Runs the encoder over a batch of id sequences of equal length. */
    public ClipTextOutput forward(int[][] inputIds) {
        return forward(inputIds, false);
    }

    /**
     * Runs the encoder; with {@code keepHiddenStates} the output also holds the embeddings and every
     * layer's output (transformers' {@code output_hidden_states=True}).
     */
    public ClipTextOutput forward(int[][] inputIds, boolean keepHiddenStates) {
        int batch = inputIds.length;
        int tokens = checkIds(inputIds);
        int hidden = config.hiddenSize();
        List<Tensor> hiddenStates = new ArrayList<>();
        Tensor x = embed(inputIds, tokens);
        try {
            if (keepHiddenStates) {
                hiddenStates.add(backend.copy(x));
            }
            for (ClipEncoderLayer layer : layers) {
                layer.forward(x);
                if (keepHiddenStates) {
                    hiddenStates.add(backend.copy(x));
                }
            }
            Tensor last = finalLayerNorm.forward(x);
            Tensor pooled = pool(last, inputIds, tokens, hidden);
            return new ClipTextOutput(last, pooled, List.copyOf(hiddenStates));
        } catch (RuntimeException e) {
            hiddenStates.forEach(Tensor::close);
            throw e;
        } finally {
            x.close();
        }
    }

    /**
     * The conditioning Stable Diffusion feeds its U-Net: the last hidden state for {@code clipSkip = 0},
     * otherwise the output of the layer {@code clipSkip} before the last, through the final layer norm
     * (diffusers' {@code clip_skip}).
     */
    public Tensor encode(int[][] inputIds, int clipSkip) {
        if (clipSkip < 0 || clipSkip >= config.numHiddenLayers()) {
            throw new IllegalArgumentException("clip skip must be in [0, " + (config.numHiddenLayers() - 1) + "], got "
                    + clipSkip);
        }
        int tokens = checkIds(inputIds);
        Tensor x = embed(inputIds, tokens);
        try {
            for (int i = 0; i < layers.size() - clipSkip; i++) {
                layers.get(i).forward(x);
            }
            return finalLayerNorm.forward(x);
        } finally {
            x.close();
        }
    }

    private int checkIds(int[][] inputIds) {
        if (inputIds.length == 0) {
            throw new IllegalArgumentException("the batch of token ids is empty");
        }
        int tokens = inputIds[0].length;
        for (int[] ids : inputIds) {
            if (ids.length != tokens) {
                throw new IllegalArgumentException("all sequences of a batch must have the same length, got "
                        + tokens + " and " + ids.length);
            }
            for (int id : ids) {
                if (id < 0 || id >= config.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + config.vocabSize());
                }
            }
        }
        if (tokens == 0 || tokens > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("sequences must have 1 to " + config.maxPositionEmbeddings()
                    + " tokens, got " + tokens);
        }
        return tokens;
    }

    /** Token embeddings plus position embeddings: {@code [batch, tokens, hidden]}. */
    private Tensor embed(int[][] inputIds, int tokens) {
        int batch = inputIds.length;
        int[] flatIds = new int[batch * tokens];
        int[] positions = new int[batch * tokens];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(inputIds[b], 0, flatIds, b * tokens, tokens);
            for (int t = 0; t < tokens; t++) {
                positions[b * tokens + t] = t;
            }
        }
        int hidden = config.hiddenSize();
        float[] rows = new float[flatIds.length * hidden];
        for (int i = 0; i < flatIds.length; i++) {
            long first = (long) flatIds[i] * hidden;
            for (int j = 0; j < hidden; j++) {
                rows[i * hidden + j] = weights.held(tokenEmbedding.getFloat(first + j));
            }
        }
        Tensor x = backend.fromFloats(rows, flatIds.length, hidden);
        try (Tensor position = backend.gatherRows(positionEmbedding, positions)) {
            backend.addInPlace(x, position);
        }
        return x.reshapeOwned(batch, tokens, config.hiddenSize());
    }

    private Tensor pool(Tensor last, int[][] inputIds, int tokens, int hidden) {
        int[] rows = new int[inputIds.length];
        for (int b = 0; b < inputIds.length; b++) {
            rows[b] = b * tokens + eosPosition(inputIds[b]);
        }
        return backend.gatherRows(last.reshape(inputIds.length * tokens, hidden), rows);
    }

    private int eosPosition(int[] ids) {
        int best = 0;
        for (int t = 0; t < ids.length; t++) {
            if (config.eosTokenId() == 2) {
                if (ids[t] > ids[best]) {
                    best = t;
                }
            } else if (ids[t] == config.eosTokenId()) {
                return t;
            }
        }
        return config.eosTokenId() == 2 ? best : 0; // transformers' argmax over "no EOS anywhere" is 0
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
        positionEmbedding.close();
        layers.forEach(ClipEncoderLayer::close);
        finalLayerNorm.close();
        if (ownedSource != null) {
            ownedSource.close();
        }
    }
}
