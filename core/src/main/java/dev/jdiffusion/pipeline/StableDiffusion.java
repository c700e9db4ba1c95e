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
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.tokenizer.ClipTokenizer;
import dev.jdiffusion.weights.checkpoint.LdmCheckpoint;
import dev.jdiffusion.schedulers.PredictionType;
import dev.jdiffusion.schedulers.Samplers;
import dev.jdiffusion.schedulers.SchedulerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A loaded Stable Diffusion model: tokenizer, text encoder, U-Net, VAE and the scheduler settings of a
 * diffusers folder. Immutable and safe to share: each {@link #txt2img} / {@link #img2img} request carries
 * its own state. Close it to free the weights and the backend.
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

    private StableDiffusion(String name, Backend backend, boolean ownsBackend, ClipTokenizer tokenizer,
            ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae, SchedulerConfig schedulerConfig,
            Samplers defaultSampler, AutoCloseable weightsFile) {
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
    }

    /**
     * Starts loading a model: a diffusers folder (with {@code model_index.json}), or a single-file
     * {@code .safetensors} checkpoint in the original layout (then give its tokenizer, or a diffusers
     * folder to take the configs, tokenizer and scheduler from, with {@link Loader#configFrom}).
     */
    public static Loader load(Path path) {
        return new Loader(path);
    }

    /** Options for opening a model. */
    public static final class Loader {
        private final Path path;
        private Device device = Device.CPU;
        private int threads = CpuBackend.defaultThreads();
        private Backend backend;
        private Path configFolder;
        private Path tokenizerFolder;
        private PredictionType predictionType;

        private Loader(Path path) {
            this.path = path;
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

        /** For a single-file checkpoint: the CLIP tokenizer folder ({@code vocab.json}, {@code merges.txt}). */
        public Loader tokenizer(Path folder) {
            this.tokenizerFolder = folder;
            return this;
        }

        /** Loads every part, checking the files first so that a missing part fails before any heavy work. */
        public StableDiffusion open() {
            if (!device.kind().equals("cpu")) {
                throw new IllegalArgumentException("device " + device + " is not available: only the CPU backend is built in");
            }
            if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".safetensors")) {
                return openSingleFile();
            }
            ModelFolder folder = ModelFolder.check(path);
            boolean owned = backend == null;
            Backend b = owned ? new CpuBackend(threads) : backend;
            ClipTextModel text = null;
            UNet2DConditionModel u = null;
            try {
                ClipTokenizer tokenizer = ClipTokenizer.load(folder.part("tokenizer"));
                text = ClipTextModel.load(folder.part("text_encoder"), b);
                u = UNet2DConditionModel.load(folder.part("unet"), b);
                AutoencoderKL v = AutoencoderKL.load(folder.part("vae"), b);
                Path schedulerFile = folder.part("scheduler").resolve("scheduler_config.json");
                SchedulerConfig config = SchedulerConfig.read(schedulerFile);
                Samplers sampler = samplerOf(ConfigValues.read(schedulerFile).getString("_class_name", "PNDMScheduler"));
                return new StableDiffusion(path.getFileName().toString(), b, owned, tokenizer, text, u, v, config, sampler,
                        null);
            } catch (RuntimeException e) {
                if (text != null) {
                    text.close();
                }
                if (u != null) {
                    u.close();
                }
                if (owned) {
                    b.close();
                }
                throw e;
            }
        }

        private StableDiffusion openSingleFile() {
            if (configFolder != null) {
                ModelFolder.check(configFolder);
            }
            LdmCheckpoint checkpoint = LdmCheckpoint.open(path);
            Path tokenizerPath = tokenizerFolder != null ? tokenizerFolder
                    : configFolder != null ? configFolder.resolve("tokenizer") : null;
            if (tokenizerPath == null || !Files.exists(tokenizerPath.resolve("vocab.json"))) {
                checkpoint.close();
                throw new IllegalArgumentException(path + " is a single-file checkpoint, which carries no tokenizer "
                        + "vocabulary: give a CLIP tokenizer folder with tokenizer(...) or a diffusers folder with configFrom(...)");
            }
            boolean owned = backend == null;
            Backend b = owned ? new CpuBackend(threads) : backend;
            ClipTextModel text = null;
            UNet2DConditionModel u = null;
            boolean sd2 = checkpoint.family() == LdmCheckpoint.Family.SD2;
            try {
                ClipTokenizer tokenizer = ClipTokenizer.load(tokenizerPath);
                if (sd2 && configFolder == null) {
                    tokenizer = tokenizer.withPadToken("!"); // SD 2.x pads with "!", as its tokenizer folder says
                }
                text = ClipTextModel.of(configFolder != null
                        ? ClipTextConfig.read(configFolder.resolve("text_encoder/config.json"))
                        : ClipTextConfig.inferFrom(checkpoint.textEncoder(), sd2 ? Activation.GELU : Activation.QUICK_GELU),
                        Weights.of(checkpoint.textEncoder(), b));
                u = UNet2DConditionModel.of(configFolder != null
                        ? UNet2DConditionConfig.read(configFolder.resolve("unet/config.json"))
                        : UNet2DConditionConfig.inferFrom(checkpoint.unet()), Weights.of(checkpoint.unet(), b));
                AutoencoderKL v = AutoencoderKL.of(configFolder != null
                        ? AutoencoderKLConfig.read(configFolder.resolve("vae/config.json"))
                        : AutoencoderKLConfig.inferFrom(checkpoint.vae()), Weights.of(checkpoint.vae(), b));
                SchedulerConfig config = SchedulerConfig.sd15();
                Samplers sampler = Samplers.PNDM;
                if (predictionType != null) {
                    config = config.withPredictionType(predictionType);
                }
                if (configFolder != null) {
                    Path schedulerFile = configFolder.resolve("scheduler/scheduler_config.json");
                    config = SchedulerConfig.read(schedulerFile);
                    if (predictionType != null) {
                        config = config.withPredictionType(predictionType);
                    }
                    sampler = samplerOf(ConfigValues.read(schedulerFile).getString("_class_name", "PNDMScheduler"));
                }
                checkpoint.releaseResidentPages(); // the layers hold their own packed copies now
                String name = path.getFileName().toString().replaceFirst("\\.safetensors$", "");
                return new StableDiffusion(name, b, owned, tokenizer, text, u, v, config, sampler, checkpoint);
            } catch (RuntimeException e) {
                if (text != null) {
                    text.close();
                }
                if (u != null) {
                    u.close();
                }
                if (owned) {
                    b.close();
                }
                checkpoint.close();
                throw e;
            }
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
        return new GenerationRequest(this, prompt, null);
    }

    /** An image-to-image request starting from {@code initImage}. */
    public GenerationRequest img2img(Image initImage, String prompt) {
        if (initImage == null) {
            throw new IllegalArgumentException("img2img needs an init image");
        }
        return new GenerationRequest(this, prompt, initImage);
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

    /** The text conditioning of one prompt: {@code [1, 77, hidden]} (clip skip 0 = the last layer). */
    public Tensor encodePrompt(String prompt, int clipSkip) {
        int[] ids = tokenizer.encodeForModel(prompt).ids();
        return textEncoder.encode(new int[][] {ids}, clipSkip);
    }

    @Override
    public void close() {
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
    }
}
