package dev.jdiffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.image.Image;
import dev.jdiffusion.image.Png;
import dev.jdiffusion.testing.Fixtures;
import dev.jdiffusion.weights.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each kind of bad input gets its own clear error, before any heavy work. */
class BadInputTest {
    private static StableDiffusion sd;

    @BeforeAll
    static void open() {
        sd = StableDiffusion.load(Fixtures.folder("pipeline")).open();
    }

    @AfterAll
    static void close() {
        if (sd != null) {
            sd.close();
        }
    }

    private static void refused(String expectedWords, Runnable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(e.getMessage().contains(expectedWords), "'" + e.getMessage() + "' should mention " + expectedWords);
    }

    @Test
    void aFolderWithAMissingPart(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("model_index.json"), "{}");
        for (String part : new String[] {"tokenizer", "text_encoder", "unet", "scheduler"}) {
            Files.createDirectories(dir.resolve(part));
        }
        refused("'vae' is missing", () -> StableDiffusion.load(dir).open());
    }

    @Test
    void somethingThatIsNotAModel(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("notes.txt"), "hello");
        refused("not a model", () -> StableDiffusion.load(file).open());
        refused("no model_index.json", () -> StableDiffusion.load(dir).open());
    }

    @Test
    void aPickledCheckpointIsRefusedWithTheWayToConvertIt(@TempDir Path dir) throws IOException {
        Path ckpt = Files.write(dir.resolve("model.ckpt"), new byte[] {(byte) 0x80, 2});
        refused("never unpickled", () -> StableDiffusion.load(ckpt).open());
    }

    @Test
    void eachSettingIsRefusedWhereItIsGiven() {
        refused("multiple of 8", () -> sd.txt2img("x").size(60, 64));
        refused("multiple of 8", () -> sd.txt2img("x").size(0, 64));
        refused("steps must be >= 1", () -> sd.txt2img("x").steps(0));
        refused("guidance", () -> sd.txt2img("x").guidance(-1));
        refused("guidance", () -> sd.txt2img("x").guidance(Double.NaN));
        refused("sampler", () -> sd.txt2img("x").scheduler(null));
        refused("clip skip must be in [0, 2], got 5 (A1111's Clip skip 6, which goes from 1 to 3)", () -> sd.txt2img("x").clipSkip(5));
        refused("clip skip", () -> sd.txt2img("x").clipSkip(-1));
        Image init = Png.read(Fixtures.folder("pipeline").resolve("init_image.png"));
        refused("strength", () -> sd.img2img(init, "x").strength(0));
        refused("strength", () -> sd.img2img(init, "x").strength(1.5));
        refused("init image's size", () -> sd.img2img(init, "x").size(init.width() + 8, init.height()));
        refused("init image", () -> sd.img2img(null, "x"));
        refused("unknown sampler", () -> dev.jdiffusion.schedulers.Samplers.byName("nope"));
        refused("F32, F16 or BF16, not I8", () -> StableDiffusion.load(Fixtures.folder("pipeline")).weightsDType(DType.I8));
        refused("threads must be >= 1", () -> StableDiffusion.load(Fixtures.folder("pipeline")).threads(0));
        IllegalStateException txt2imgStrength = assertThrows(IllegalStateException.class,
                () -> sd.txt2img("x").strength(0.5));
        assertTrue(txt2imgStrength.getMessage().contains("img2img"), txt2imgStrength.getMessage());
    }

    @Test
    void anInitImageSmallerThanOneLatentIsRefused() {
        Image sliver = new Image(3, 64, new float[3 * 64 * 3]);
        refused("the init image is 3x64; img2img needs at least 4x4", () -> sd.img2img(sliver, "x"));
    }

    @Test
    void latentsThatDoNotMatchTheSizeAreRefusedBeforeTheFirstStep() {
        refused("latents", () -> sd.txt2img("x").size(64, 64).latents(new float[3]).generate());
        refused("latents", () -> sd.txt2img("x").latents(new float[4 * 8 * 8]).size(128, 64).generate());
    }

    @Test
    void anEmptyOrUnreadableInitImage(@TempDir Path dir) throws IOException {
        Path empty = Files.write(dir.resolve("empty.png"), new byte[0]);
        refused("not an image", () -> Png.read(empty));
        refused("needs", () -> new Image(0, 0, new float[0]));
    }

    @Test
    void aStepCallbackCanCancel() {
        assertThrows(CancellationException.class, () -> sd.txt2img("a cat").size(64, 64).steps(4).seed(1)
                .onStep(progress -> progress.cancel()).generate());
    }
}
