package dev.jdiffusion.pipeline;

import dev.jdiffusion.cpu.CpuBackend;
import dev.jdiffusion.image.Image;
import dev.jdiffusion.models.ConfigValues;
import dev.jdiffusion.models.clip.ClipTextConfig;
import dev.jdiffusion.models.clip.ClipTextModel;
import dev.jdiffusion.models.unet.UNet2DConditionConfig;
import dev.jdiffusion.models.unet.UNet2DConditionModel;
import dev.jdiffusion.models.vae.AutoencoderKL;
import dev.jdiffusion.models.vae.AutoencoderKLConfig;
import dev.jdiffusion.nn.Weights;
import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.Backends;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.tokenizer.ClipTokenizer;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.checkpoint.LdmCheckpoint;
import dev.jdiffusion.weights.hub.DownloadProgress;
import dev.jdiffusion.weights.hub.HubDownloader;
import dev.jdiffusion.weights.hub.HubSettings;
import dev.jdiffusion.weights.hub.RepoReference;
import dev.jdiffusion.schedulers.PredictionType;
import dev.jdiffusion.schedulers.Samplers;
import dev.jdiffusion.schedulers.SchedulerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * A loaded Stable Diffusion model: tokenizer, text encoder, U-Net, VAE and the scheduler settings of a
 * diffusers folder. Safe to share between threads: each {@link #txt2img} / {@link #img2img} request carries
 * its own state, and generations take turns, one at a time (they share the weights, which a generation frees
 * as it goes, and the backend already runs each one on every core). Close it to free the weights and the
 * backend; a close waits for the generation under way.
 *
 * <pre>{@code
 * try (StableDiffusion sd = StableDiffusion.load(Path.of("models/sd-v1-5")).open()) {
 *     Result r = sd.txt2img("a flying cat in space").negativePrompt("blurry").steps(25).seed(42).generate();
 *     r.save(Path.of("cat.png"));
 * }
 * }</pre>
 */
public final class StableDiffusion implements AutoCloseable {
    private final String name;
    private final Backend backend;
    private final boolean ownsBackend;
    private final ClipTokenizer tokenizer;
    private final ClipTextModel textEncoder;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final SchedulerConfig schedulerConfig;
    private final Samplers defaultSampler;
    private final AutoCloseable weightsFile;
    private final boolean keepModelsInMemory;
    /** Held by the generation under way, and by {@link #close()}. */
    private final ReentrantLock inUse = new ReentrantLock();
    private volatile boolean closed;

    private StableDiffusion(String name, Backend backend, boolean ownsBackend, ClipTokenizer tokenizer,
            ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae, SchedulerConfig schedulerConfig,
            Samplers defaultSampler, AutoCloseable weightsFile, boolean keepModelsInMemory) {
        this.name = name;
        this.backend = backend;
        this.ownsBackend = ownsBackend;
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
        this.schedulerConfig = schedulerConfig;
        this.defaultSampler = defaultSampler;
        this.weightsFile = weightsFile;
        this.keepModelsInMemory = keepModelsInMemory;
    }

    /**
     * Starts loading a model: a diffusers folder (with {@code model_index.json}), or a single-file
     * {@code .safetensors} checkpoint in the original layout (then give its tokenizer, or a diffusers
     * folder to take the configs, tokenizer and scheduler from, with {@link Loader#configFrom}).
     */
    public static Loader load(Path path) {
        return new Loader(path, null);
    }

    /**
     * Starts loading a model named by a path (folder or file) or, when no such path exists, a Hugging Face
     * repo id ({@code org/name[@revision]}). A repo id is looked up in the local hub cache ({@code HF_HUB_CACHE},
     * {@code HF_HOME}, {@code ~/.cache/huggingface/hub}) and used in place; what the cache lacks is downloaded
     * into it when the model is {@linkplain Loader#open() opened} (see {@link Loader#hub}, {@link Loader#variant}).
     */
    public static Loader load(String reference) {
        Path path = Path.of(reference);
        if (!Files.exists(path) && RepoReference.looksLikeRepoId(reference)) {
            return new Loader(null, RepoReference.parse(reference));
        }
        return new Loader(path, null);
    }

    /** Options for opening a model. */
    public static final class Loader {
        /** A folder or file; null for a repo id, resolved to its snapshot folder at {@link #open()}. */
        private final Path path;
        private final RepoReference repo;
        private HubSettings hub;
        private String variant;
        private DownloadProgress downloadProgress = DownloadProgress.NONE;
        private Device device = Device.CPU;
        private int threads = CpuBackend.defaultThreads();
        private Backend backend;
        private Path configFolder;
        private Path tokenizerFolder;
        private PredictionType predictionType;
        private boolean keepModelsInMemory;
        private DType weightsDType;

        private Loader(Path path, RepoReference repo) {
            this.path = path;
            this.repo = repo;
        }

        /**
         * Prefers the weights of this variant ({@code "fp16"}: half the download and the same resident size,
         * since 16-bit weights stay 16-bit) where the model has them; the plain weights elsewhere.
         */
        public Loader variant(String variant) {
            this.variant = variant;
            return this;
        }

        /**
         * The type the weights of the matrix products and convolutions (nearly all of a model's) are held in while
         * in use: {@link DType#F16} or {@link DType#BF16} halve the memory of a model stored in F32, rounding every
         * weight to the nearest even as torch's {@code .half()} does, so that the pictures are those of the model's
         * {@code fp16} variant; {@link DType#F32} widens 16-bit weights, which changes nothing but the memory. By
         * default they are held as the files store them. The products compute in F32 whatever the choice.
         *
         * @throws IllegalArgumentException for a type other than those three
         */
        public Loader weightsDType(DType type) {
            this.weightsDType = Backend.requireHeldType(type);
            return this;
        }

        /** For a repo id: where the hub and the cache are (by default as the {@code HF_*} variables say). */
        public Loader hub(HubSettings settings) {
            this.hub = settings;
            return this;
        }

        /** For a repo id: told how a download advances. */
        public Loader downloadProgress(DownloadProgress progress) {
            this.downloadProgress = progress;
            return this;
        }

        /** Where to run; {@link Device#CPU} by default. */
        public Loader device(Device device) {
            this.device = device;
            return this;
        }

        /** CPU threads (all cores by default). */
        public Loader threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1, got " + threads);
            }
            this.threads = threads;
            return this;
        }

        /** Runs on a backend the caller owns (and closes). */
        public Loader backend(Backend backend) {
            this.backend = backend;
            return this;
        }

        /**
         * For a single-file checkpoint: take the model configs, tokenizer and scheduler from this diffusers
         * folder (the weights still come from the file). Without it they are inferred from the tensors.
         */
        public Loader configFrom(Path diffusersFolder) {
            this.configFolder = diffusersFolder;
            return this;
        }

        /**
         * For a single-file checkpoint: what the U-Net predicts, which its weights do not tell (SD 2.x 768
         * models predict {@code v}); epsilon unless a config folder says otherwise.
         */
        public Loader predictionType(PredictionType type) {
            this.predictionType = type;
            return this;
        }

        /**
         * Keeps every model's weights prepared for the kernels between generations. By default a generation frees
         * each model's prepared weights (the CPU's packed panels) once its part is done, so that only the model at
         * work is in memory, and the next generation prepares them again from the weights file. Kept, the
         * generations after the first skip that: on SD 1.5 with 16-bit weights at 512x512 on two cores, each
         * picture after the first took about 2 s less, and the peak resident memory rose from 2.7 GB to 3.3 GB (the
         * three models at once). For an application or a batch that makes many pictures.
         */
        public Loader keepModelsInMemory(boolean keep) {
            this.keepModelsInMemory = keep;
            return this;
        }

        /** For a single-file checkpoint: the CLIP tokenizer folder ({@code vocab.json}, {@code merges.txt}). */
        public Loader tokenizer(Path folder) {
            this.tokenizerFolder = folder;
            return this;
        }

        /**
         * Loads every part, checking the files first so that a missing part fails before any heavy work; for a
         * repo id, first downloads what the local cache lacks.
         */
        public StableDiffusion open() {
            Deque<AutoCloseable> opened = new ArrayDeque<>(); // closed, newest first, if a later part fails
            try {
                // the device first: one that cannot run here fails before any download
                Backend b = backend != null ? backend : opened(opened, Backends.open(device, threads));
                Path location = path != null ? path
                        : new HubDownloader(hub != null ? hub : HubSettings.fromEnvironment()).pipeline(repo, variant,
                                downloadProgress);
                boolean singleFile = Files.isRegularFile(location)
                        && location.getFileName().toString().endsWith(".safetensors");
                ModelFolder folder = singleFile ? (configFolder == null ? null : ModelFolder.check(configFolder))
                        : ModelFolder.check(location);
                LdmCheckpoint checkpoint = singleFile ? opened(opened, LdmCheckpoint.open(location)) : null;
                boolean sd2 = checkpoint != null && checkpoint.family() == LdmCheckpoint.Family.SD2;
                ClipTokenizer tokenizer = tokenizer(folder, sd2);
                ClipTextModel text = opened(opened, checkpoint == null
                        ? ClipTextModel.load(folder.part("text_encoder"), variant, weightsDType, b)
                        : ClipTextModel.of(folder != null ? ClipTextConfig.read(folder.config("text_encoder"))
                                : ClipTextConfig.inferFrom(checkpoint.textEncoder(), sd2 ? Activation.GELU : Activation.QUICK_GELU),
                                Weights.of(checkpoint.textEncoder(), b, weightsDType)));
                UNet2DConditionModel unet = opened(opened, checkpoint == null
                        ? UNet2DConditionModel.load(folder.part("unet"), variant, weightsDType, b)
                        : UNet2DConditionModel.of(folder != null ? UNet2DConditionConfig.read(folder.config("unet"))
                                : UNet2DConditionConfig.inferFrom(checkpoint.unet()),
                                Weights.of(checkpoint.unet(), b, weightsDType)));
                AutoencoderKL vae = opened(opened, checkpoint == null
                        ? AutoencoderKL.load(folder.part("vae"), variant, weightsDType, b)
                        : AutoencoderKL.of(folder != null ? AutoencoderKLConfig.read(folder.config("vae"))
                                : AutoencoderKLConfig.inferFrom(checkpoint.vae()),
                                Weights.of(checkpoint.vae(), b, weightsDType)));
                SchedulerConfig config = SchedulerConfig.sd15();
                Samplers sampler = Samplers.PNDM;
                if (folder != null) {
                    Path schedulerFile = folder.part("scheduler").resolve("scheduler_config.json");
                    config = SchedulerConfig.read(schedulerFile);
                    sampler = samplerOf(ConfigValues.read(schedulerFile).getString("_class_name", "PNDMScheduler"));
                }
                if (predictionType != null) {
                    config = config.withPredictionType(predictionType);
                }
                if (checkpoint != null) {
                    checkpoint.releaseResidentPages(); // weights are read when first used, not kept from loading
                }
                String name = modelName(location);
                return new StableDiffusion(name, b, backend == null, tokenizer, text, unet, vae, config, sampler, checkpoint,
                        keepModelsInMemory);
            } catch (RuntimeException e) {
                for (AutoCloseable part : opened) {
                    try {
                        part.close();
                    } catch (Exception suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw e;
            }
        }

        /** The name a user knows the model by: the repo of a hub snapshot, else the folder or file name. */
        private String modelName(Path location) {
            if (repo != null) {
                return repo.repo();
            }
            Path snapshots = location.toAbsolutePath().getParent();
            if (snapshots != null && snapshots.getFileName() != null && snapshots.getFileName().toString().equals("snapshots")
                    && snapshots.getParent().getFileName().toString().startsWith("models--")) {
                return snapshots.getParent().getFileName().toString().substring("models--".length()).replace("--", "/");
            }
            return location.getFileName().toString().replaceFirst("\\.safetensors$", "");
        }

        private static <T extends AutoCloseable> T opened(Deque<AutoCloseable> opened, T part) {
            opened.push(part);
            return part;
        }

        /** The folder's tokenizer, or for a single file the one given; SD 2.x pads with "!". */
        private ClipTokenizer tokenizer(ModelFolder folder, boolean sd2) {
            Path tokenizerPath = tokenizerFolder != null ? tokenizerFolder : folder != null ? folder.part("tokenizer") : null;
            if (tokenizerPath == null) {
                throw new IllegalArgumentException(path + " is a single-file checkpoint, which carries no tokenizer "
                        + "vocabulary: give a CLIP tokenizer folder with tokenizer(...) or a diffusers folder with configFrom(...)");
            }
            if (!Files.exists(tokenizerPath.resolve("vocab.json")) || !Files.exists(tokenizerPath.resolve("merges.txt"))) {
                throw new IllegalArgumentException(tokenizerPath + " is not a CLIP tokenizer folder: vocab.json or merges.txt "
                        + "is missing");
            }
            ClipTokenizer tokenizer = ClipTokenizer.load(tokenizerPath);
            return sd2 && folder == null ? tokenizer.withPadToken("!") : tokenizer;
        }
    }

    private static Samplers samplerOf(String diffusersClass) {
        for (Samplers s : Samplers.values()) {
            if (s.diffusersClass().equals(diffusersClass)) {
                return s;
            }
        }
        return Samplers.PNDM;
    }

    /** A text-to-image request, to configure and {@link GenerationRequest#generate()}. */
    public GenerationRequest txt2img(String prompt) {
        requireOpen();
        return new GenerationRequest(this, prompt, null);
    }

    /** An image-to-image request starting from {@code initImage}. */
    public GenerationRequest img2img(Image initImage, String prompt) {
        requireOpen();
        if (initImage == null) {
            throw new IllegalArgumentException("img2img needs an init image");
        }
        return new GenerationRequest(this, prompt, initImage);
    }

    /** Runs {@code work} once no other generation is under way, on a model still open. */
    <T> T exclusively(Supplier<T> work) {
        inUse.lock();
        try {
            requireOpen();
            return work.get();
        } finally {
            inUse.unlock();
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("this StableDiffusion (" + name + ") is closed");
        }
    }

    /** The sampler of the model's own {@code scheduler_config.json}. */
    public Samplers defaultSampler() {
        return defaultSampler;
    }

    public String name() {
        return name;
    }

    ClipTokenizer tokenizer() {
        return tokenizer;
    }

    ClipTextModel textEncoder() {
        return textEncoder;
    }

    UNet2DConditionModel unet() {
        return unet;
    }

    AutoencoderKL vae() {
        return vae;
    }

    Backend backend() {
        return backend;
    }

    SchedulerConfig schedulerConfig() {
        return schedulerConfig;
    }

    /** Whether a generation leaves the models' prepared weights in memory ({@link Loader#keepModelsInMemory}). */
    boolean keepsModelsInMemory() {
        return keepModelsInMemory;
    }

    /** The text conditioning of one prompt: {@code [1, 77, hidden]} (clip skip 0 = the last layer). */
    public Tensor encodePrompt(String prompt, int clipSkip) {
        return exclusively(() -> {
            int[] ids = tokenizer.encodeForModel(prompt).ids();
            return textEncoder.encode(new int[][] {ids}, clipSkip);
        });
    }

    /** Frees the weights and the backend, once the generation under way (if any) has ended; again, nothing. */
    @Override
    public void close() {
        inUse.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            textEncoder.close();
            unet.close();
            vae.close();
            if (ownsBackend) {
                backend.close();
            }
            if (weightsFile != null) {
                try {
                    weightsFile.close();
                } catch (Exception e) {
                    throw new IllegalStateException("cannot close " + name, e);
                }
            }
        } finally {
            inUse.unlock();
        }
    }

    /** A diffusers pipeline folder, checked for its parts before anything is loaded. */
    record ModelFolder(Path root) {
        private static final List<String> PARTS = List.of("tokenizer", "text_encoder", "unet", "vae", "scheduler");

        static ModelFolder check(Path root) {
            if (!Files.isDirectory(root)) {
                if (Files.exists(root) && root.getFileName().toString().endsWith(".ckpt")) {
                    throw new IllegalArgumentException(root + " is a pickled .ckpt checkpoint, which is never unpickled "
                            + "(it can run code). Convert it to .safetensors first, e.g. with diffusers' "
                            + "scripts/convert_original_stable_diffusion_to_diffusers.py --to_safetensors");
                }
                throw new IllegalArgumentException(root + " is not a model folder (a diffusers folder with "
                        + "model_index.json, tokenizer/, text_encoder/, unet/, vae/ and scheduler/)");
            }
            if (!Files.exists(root.resolve("model_index.json"))) {
                throw new IllegalArgumentException(root + " has no model_index.json: not a diffusers pipeline folder");
            }
            for (String part : PARTS) {
                if (!Files.isDirectory(root.resolve(part))) {
                    throw new IllegalArgumentException(root + " is incomplete: the folder '" + part + "' is missing");
                }
            }
            return new ModelFolder(root);
        }

        Path part(String name) {
            return root.resolve(name);
        }

        Path config(String part) {
            return root.resolve(part).resolve("config.json");
        }
    }
}
