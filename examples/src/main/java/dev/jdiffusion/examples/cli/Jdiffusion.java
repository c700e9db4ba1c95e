package dev.jdiffusion.examples.cli;

import dev.jdiffusion.image.Image;
import dev.jdiffusion.image.LanczosResampler;
import dev.jdiffusion.image.Png;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.Result;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.schedulers.Samplers;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.hub.HubSettings;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** The {@code jdiffusion} command line: {@code txt2img}, {@code img2img} and {@code info}. */
public final class Jdiffusion {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE = 2;
    static final int INTERRUPTED = 130;

    private static final Set<String> GENERATION_OPTIONS = Set.of("model", "prompt", "negative", "steps", "cfg", "sampler",
            "seed", "size", "batch-count", "clip-skip", "strength", "init", "tokenizer", "config-from", "out", "threads",
            "device", "variant", "weights-dtype");
    private static final Set<String> FLAGS = Set.of("help", "offline", "keep-models");

    private static final String HELP = """
            Usage: jdiffusion <command> [options]

            Commands:
              txt2img   make pictures from a prompt
              img2img   change a picture with a prompt
              info      print the generation parameters stored in a PNG: jdiffusion info IMAGE.png

            Options of txt2img and img2img:
              --model PATH|REPO_ID   a diffusers folder, a single-file .safetensors checkpoint, or a Hugging Face
                                     repo id (org/name[@revision]): used from the local cache (HF_HUB_CACHE,
                                     HF_HOME, ~/.cache/huggingface/hub), downloaded into it when missing
                                     (HF_TOKEN for gated models, HF_ENDPOINT for a mirror)            (required)
              --variant NAME         weights variant to prefer where the model has it, e.g. fp16 (half the download)
              --weights-dtype T      hold the weights in memory as f16, bf16 or f32: f16 halves the memory of a
                                     model stored in F32 (rounding its weights as its fp16 variant does)
                                                                                       (as the files store them)
              --offline              use the local cache only, as HF_HUB_OFFLINE=1 does
              --prompt TEXT          what to draw                                                     (required)
              --negative TEXT        what to avoid
              --steps N              denoising steps                                                  (25)
              --cfg SCALE            classifier-free guidance scale; 1 turns it off                   (7.5)
              --sampler NAME         %s
                                     (default: the model's own scheduler)
              --seed N               seed of the torch-compatible generator; random and printed when not given
                                     or negative (A1111's -1)
              --size WxH             picture size, multiples of 8; img2img resizes the init image to it
                                                                             (512x512; img2img: the image's)
              --batch-count N        pictures to make, with seeds seed, seed+1, ...                  (1)
              --keep-models          keep every model ready in memory between the pictures: each one after the
                                     first starts seconds sooner, and the peak memory holds all the models at once
              --clip-skip N          A1111's clip skip: 1 = the last text-encoder layer, 2 = the one before (1)
              --strength S           img2img: how much of the schedule runs, in (0, 1]                (0.75)
              --init IMAGE           img2img: the starting picture                                    (required)
              --tokenizer DIR        single-file checkpoints: a CLIP tokenizer folder
              --config-from DIR      single-file checkpoints: a diffusers folder to take configs, tokenizer and
                                     scheduler from
              --out PATH             a .png file, or a folder for <seed>.png files                    (outputs/)
              --threads N            CPU threads                                                      (all cores)
              --device cpu|cuda[:N]                                                                   (cpu)
              --help                 this text

            PNGs carry the parameters in A1111's "parameters" text chunk.
            Exit codes: 0 done, 1 failed, 2 bad command line, 130 interrupted (Ctrl-C stops after the current step).
            """.formatted(String.join(", ", Arrays.stream(Samplers.values()).map(Samplers::userName).toList()));

    private Jdiffusion() {}

    public static void main(String[] args) {
        System.exit(run(List.of(args), System.out, System.err));
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        if (args.isEmpty() || args.get(0).equals("--help") || args.get(0).equals("-h") || args.get(0).equals("help")) {
            out.print(HELP);
            return args.isEmpty() ? USAGE : OK;
        }
        String command = args.get(0);
        List<String> rest = args.subList(1, args.size());
        try {
            return switch (command) {
                case "txt2img", "img2img" -> generate(command.equals("img2img"), new Arguments(rest, GENERATION_OPTIONS, FLAGS),
                        out, err);
                case "info" -> info(new Arguments(rest, Set.of(), FLAGS), out);
                default -> throw new UsageException("unknown command '" + command + "' (txt2img, img2img, info)");
            };
        } catch (UsageException e) {
            err.println("jdiffusion: " + e.getMessage());
            return USAGE;
        } catch (CancellationException e) {
            err.println("jdiffusion: interrupted, " + e.getMessage());
            return INTERRUPTED;
        } catch (RuntimeException e) {
            err.println("jdiffusion: " + e.getMessage());
            return FAILED;
        }
    }

    private static int info(Arguments a, PrintStream out) {
        if (a.has("help") || a.positional().size() != 1) {
            throw new UsageException("usage: jdiffusion info IMAGE.png");
        }
        Path file = Path.of(a.positional().get(0));
        if (!Files.exists(file)) {
            throw new UsageException(file + " does not exist");
        }
        Map<String, String> text = Png.readText(file);
        String parameters = text.get("parameters");
        if (parameters == null) {
            out.println(file + " carries no generation parameters");
            return FAILED;
        }
        out.println(parameters);
        return OK;
    }

    private static int generate(boolean img2img, Arguments a, PrintStream out, PrintStream err) {
        if (a.has("help")) {
            out.print(HELP);
            return OK;
        }
        if (!a.positional().isEmpty()) {
            throw new UsageException("unexpected argument '" + a.positional().get(0) + "' (options start with --)");
        }
        String model = a.require("model");
        String prompt = a.require("prompt");
        Samplers sampler = a.has("sampler") ? sampler(a.get("sampler", "")) : null;
        int batchCount = a.integer("batch-count", 1);
        int clipSkip = a.integer("clip-skip", 1);
        if (batchCount < 1) {
            throw new UsageException("--batch-count must be >= 1");
        }
        if (clipSkip < 1) {
            throw new UsageException("--clip-skip counts from 1 (the last layer)");
        }
        int[] size = a.has("size") ? size(a.get("size", "")) : null;
        Path init = img2img ? Path.of(a.require("init")) : null;
        if (!img2img && (a.has("init") || a.has("strength"))) {
            throw new UsageException("--init and --strength belong to img2img");
        }
        if (init != null && !Files.exists(init)) {
            throw new UsageException("the init image " + init + " does not exist");
        }
        long givenSeed = a.has("seed") ? seed(a.get("seed", "")) : -1;
        long firstSeed = givenSeed >= 0 ? givenSeed : ThreadLocalRandom.current().nextLong(0, 1L << 32);
        // Values checked here, before the model opens (which may mean a download); the request checks them again.
        int steps = a.integer("steps", 25);
        double cfg = a.decimal("cfg", 7.5);
        double strength = a.decimal("strength", 0.75);
        if (steps < 1) {
            throw new UsageException("--steps must be >= 1, got " + steps);
        }
        if (!(cfg >= 0) || Double.isInfinite(cfg)) {
            throw new UsageException("--cfg must be a finite number >= 0, got " + a.get("cfg", ""));
        }
        if (!(strength > 0 && strength <= 1)) {
            throw new UsageException("--strength must be in (0, 1], got " + a.get("strength", ""));
        }
        if (a.has("threads") && a.integer("threads", 1) < 1) {
            throw new UsageException("--threads must be >= 1, got " + a.get("threads", ""));
        }
        DType weightsDType = a.has("weights-dtype") ? weightsDType(a.get("weights-dtype", "")) : null;
        Image initImage = init == null ? null : Png.read(init);
        if (initImage != null && size != null) {
            initImage = LanczosResampler.resize(initImage, size[0], size[1]); // as A1111's "just resize"
        }
        Path destination = Path.of(a.get("out", "outputs"));
        checkWritable(isPngFile(destination) ? destination.toAbsolutePath().getParent() : destination);

        StableDiffusion.Loader loader = StableDiffusion.load(model).device(device(a.get("device", "cpu")));
        if (a.has("threads")) {
            loader.threads(a.integer("threads", 1));
        }
        if (a.has("tokenizer")) {
            loader.tokenizer(Path.of(a.get("tokenizer", "")));
        }
        if (a.has("config-from")) {
            loader.configFrom(Path.of(a.get("config-from", "")));
        }
        if (a.has("variant")) {
            loader.variant(a.get("variant", ""));
        }
        if (a.has("offline")) {
            loader.hub(HubSettings.fromEnvironment().withOffline(true));
        }
        if (a.has("keep-models")) {
            loader.keepModelsInMemory(true);
        }
        if (weightsDType != null) {
            loader.weightsDType(weightsDType);
        }
        loader.downloadProgress(new DownloadBar(err, System.console() != null));
        Interruption interruption = Interruption.install();
        try (StableDiffusion sd = loader.open()) {
            for (int i = 0; i < batchCount; i++) {
                long seed = firstSeed + i;
                GenerationRequest request;
                try {
                    request = img2img ? sd.img2img(initImage, prompt).strength(strength) : sd.txt2img(prompt);
                    request.negativePrompt(a.get("negative", "")).steps(steps).guidance(cfg).clipSkip(clipSkip - 1)
                            .seed(seed);
                    if (size != null && !img2img) {
                        request.size(size[0], size[1]);
                    }
                } catch (IllegalArgumentException e) {
                    // A value this model cannot take (a clip skip past its layers, an init image's odd size).
                    throw new UsageException(e.getMessage());
                }
                if (sampler != null) {
                    request.scheduler(sampler);
                }
                ProgressBar bar = new ProgressBar(err, System.console() != null,
                        batchCount > 1 ? "image " + (i + 1) + "/" + batchCount : "sampling");
                request.onStep(p -> {
                    bar.step(p);
                    if (interruption.requested()) {
                        p.cancel();
                    }
                });
                bar.begin();
                Result result = request.generate();
                if (initImage != null && (result.image().width() != initImage.width()
                        || result.image().height() != initImage.height())) {
                    err.println("jdiffusion: the init image, " + initImage.width() + "x" + initImage.height()
                            + ", was resized to " + result.image().width() + "x" + result.image().height()
                            + " (whole latents), as diffusers does");
                }
                Path file = outputFile(destination, seed, i, batchCount);
                result.save(file);
                out.println(file + "  (seed " + seed + ")");
            }
            return OK;
        } finally {
            interruption.done();
        }
    }

    private static Samplers sampler(String name) {
        try {
            return Samplers.byName(name);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    private static int[] size(String text) {
        String[] parts = text.toLowerCase(Locale.ROOT).split("x");
        try {
            if (parts.length == 2) {
                int width = Integer.parseInt(parts[0].trim());
                int height = Integer.parseInt(parts[1].trim());
                if (width >= 8 && height >= 8 && width % 8 == 0 && height % 8 == 0) {
                    return new int[] {width, height};
                }
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new UsageException("--size must be WIDTHxHEIGHT in positive multiples of 8, e.g. 512x512 or 768x512, "
                + "got '" + text + "'");
    }

    private static Device device(String text) {
        try {
            return Device.parse(text);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    private static DType weightsDType(String text) {
        return switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "f16", "fp16", "float16" -> DType.F16;
            case "bf16", "bfloat16" -> DType.BF16;
            case "f32", "fp32", "float32" -> DType.F32;
            default -> throw new UsageException("--weights-dtype must be f16, bf16 or f32, got '" + text + "'");
        };
    }

    private static long seed(String text) {
        try {
            return Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--seed must be a whole number, got '" + text + "'");
        }
    }

    private static boolean isPngFile(Path out) {
        return out.getFileName() != null && out.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png");
    }

    /** Makes the output folder, or says why it cannot be written, before minutes of work would be lost. */
    private static void checkWritable(Path folder) {
        try {
            Files.createDirectories(folder);
        } catch (FileAlreadyExistsException e) {
            throw new UsageException("--out: " + e.getFile() + " is a file, not a folder");
        } catch (IOException e) {
            throw new UsageException("--out: cannot make the folder " + folder + " (" + e.getClass().getSimpleName()
                    + ")");
        }
        if (!Files.isWritable(folder)) {
            throw new UsageException("--out: the folder " + folder + " is not writable");
        }
    }

    /** A .png path as given (numbered for several pictures), else {@code <folder>/<seed>.png}. */
    static Path outputFile(Path out, long seed, int index, int count) {
        if (isPngFile(out)) {
            String name = out.getFileName().toString();
            String numbered = name.substring(0, name.length() - 4) + "-" + (index + 1) + ".png";
            return count == 1 ? out : out.resolveSibling(numbered);
        }
        Path file = out.resolve(seed + ".png");
        for (int n = 2; Files.exists(file); n++) {
            file = out.resolve(seed + "-" + n + ".png");
        }
        return file;
    }

    /**
     * Ctrl-C as a request to stop after the current step: the shutdown hook raises the flag and waits for
     * the generation to wind down, so the JVM exits cleanly instead of mid-step.
     */
    private static final class Interruption {
        private volatile boolean requested;
        private final CountDownLatch finished = new CountDownLatch(1);
        private Thread hook;

        static Interruption install() {
            Interruption i = new Interruption();
            i.hook = new Thread(() -> {
                i.requested = true;
                try {
                    i.finished.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }, "jdiffusion-interrupt");
            Runtime.getRuntime().addShutdownHook(i.hook);
            return i;
        }

        boolean requested() {
            return requested;
        }

        void done() {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it will see the latch released
            }
        }
    }
}
