package dev.jdiffusion.examples.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.image.Png;
import dev.jdiffusion.testing.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a script would use it: outputs, parameters in the PNG, exit codes. */
class JdiffusionTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Jdiffusion.run(List.of(args), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void txt2imgWritesPngsWithTheirParametersAndInfoReadsThemBack() {
        Path model = Fixtures.folder("pipeline");
        int code = run("txt2img", "--model", model.toString(), "--prompt", "a photo of a cat", "--negative", "blurry",
                "--size", "64x64", "--steps", "2", "--cfg", "5", "--sampler", "euler_a", "--seed", "7", "--batch-count", "2",
                "--clip-skip", "2", "--out", dir.toString());
        assertEquals(Jdiffusion.OK, code, err.toString());
        assertTrue(Files.exists(dir.resolve("7.png")) && Files.exists(dir.resolve("8.png")), out.toString());
        String parameters = Png.readText(dir.resolve("8.png")).get("parameters");
        assertEquals("a photo of a cat\nNegative prompt: blurry\nSteps: 2, Sampler: euler_a, CFG scale: 5, Seed: 8, "
                + "Size: 64x64, Model: pipeline, Clip skip: 2", parameters);
        out.reset();
        assertEquals(Jdiffusion.OK, run("info", dir.resolve("7.png").toString()));
        assertTrue(out.toString().contains("Seed: 7"), out.toString());
        assertTrue(err.toString().contains("step 2/2"), "progress is reported: " + err);
    }

    @Test
    void aNegativeSeedDrawsARandomOneAsA1111Does() {
        int code = run("txt2img", "--model", Fixtures.folder("pipeline").toString(), "--prompt", "x", "--size", "64x64",
                "--steps", "1", "--seed", "-1", "--out", dir.toString());
        assertEquals(Jdiffusion.OK, code, err.toString());
        String printed = out.toString();
        long seed = Long.parseLong(printed.substring(printed.indexOf("(seed ") + 6, printed.indexOf(')')));
        assertTrue(seed >= 0, printed);
        assertTrue(Files.exists(dir.resolve(seed + ".png")), printed);
    }

    @Test
    void keptModelsMakeTheSamePictures() {
        Path model = Fixtures.folder("pipeline");
        List<String> twoPictures = List.of("txt2img", "--model", model.toString(), "--prompt", "a red cube", "--size",
                "64x64", "--steps", "2", "--seed", "3", "--batch-count", "2", "--out");
        List<String> freed = new ArrayList<>(twoPictures);
        freed.add(dir.resolve("freed").toString());
        List<String> kept = new ArrayList<>(twoPictures);
        kept.addAll(List.of(dir.resolve("kept").toString(), "--keep-models"));
        assertEquals(Jdiffusion.OK, run(freed.toArray(String[]::new)), err.toString());
        assertEquals(Jdiffusion.OK, run(kept.toArray(String[]::new)), err.toString());
        for (String picture : List.of("3.png", "4.png")) {
            assertArrayEquals(Png.read(dir.resolve("freed").resolve(picture)).rgb(),
                    Png.read(dir.resolve("kept").resolve(picture)).rgb(), picture);
        }
    }

    @Test
    void weightsHeldAsBfloat16MakeNearlyThePictureOfTheFile() {
        Path model = Fixtures.folder("pipeline");
        List<String> picture = List.of("txt2img", "--model", model.toString(), "--prompt", "a red cube", "--size",
                "64x64", "--steps", "2", "--seed", "3", "--out");
        assertEquals(Jdiffusion.OK, run(concat(picture, dir.resolve("as-stored.png").toString())), err.toString());
        assertEquals(Jdiffusion.OK, run(concat(picture, dir.resolve("bf16.png").toString(), "--weights-dtype", "bf16")),
                err.toString());
        float[] asStored = Png.read(dir.resolve("as-stored.png")).rgb();
        float[] bf16 = Png.read(dir.resolve("bf16.png")).rgb();
        double difference = 0;
        for (int i = 0; i < asStored.length; i++) {
            difference += Math.abs(asStored[i] - bf16[i]);
        }
        double levels = difference / asStored.length * 255;
        assertTrue(levels > 0 && levels < 2, "bf16 weights move the picture by a fraction of a level on average, not "
                + levels);
    }

    private static String[] concat(List<String> first, String... more) {
        List<String> all = new ArrayList<>(first);
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    /** Runs img2img from the fixture's init image, with {@code options}, into {@code name}; returns the file. */
    private Path img2img(String name, String... options) {
        Path model = Fixtures.folder("pipeline");
        Path file = dir.resolve(name);
        List<String> args = new ArrayList<>(List.of("img2img", "--model", model.toString(), "--prompt", "a dog", "--init",
                model.resolve("init_image.png").toString(), "--seed", "1", "--out", file.toString()));
        args.addAll(List.of(options));
        assertEquals(Jdiffusion.OK, run(args.toArray(String[]::new)), err.toString());
        return file;
    }

    @Test
    void img2imgStartsFromTheInitImage() {
        Path file = img2img("edited.png", "--strength", "0.5", "--steps", "4");
        assertTrue(Png.readText(file).get("parameters").contains("Denoising strength: 0.5"));
    }

    @Test
    void img2imgResizesTheInitImageToTheSizeAsked() {
        Path file = img2img("wide.png", "--size", "96x64", "--steps", "2");
        assertEquals(96, Png.read(file).width());
        assertTrue(Png.readText(file).get("parameters").contains("Size: 96x64"));
    }

    @Test
    void badCommandLinesExitWithTwoAndSayWhy() {
        assertEquals(Jdiffusion.USAGE, run("paint"));
        assertEquals(Jdiffusion.USAGE, run("txt2img", "--prompt", "x"));
        assertEquals(Jdiffusion.USAGE, run("txt2img", "--model", "m", "--prompt", "x", "--size", "big"));
        assertEquals(Jdiffusion.USAGE, run("txt2img", "--model", "m", "--prompt", "x", "--sampler", "warp"));
        assertEquals(Jdiffusion.USAGE, run("txt2img", "--model", "m", "--prompt", "x", "--frobnicate", "1"));
        assertEquals(Jdiffusion.USAGE, run("img2img", "--model", "m", "--prompt", "x"));
        assertTrue(err.toString().contains("--model is required") && err.toString().contains("unknown sampler"), err.toString());
        assertEquals(Jdiffusion.OK, run("--help"));
        assertTrue(out.toString().contains("Exit codes"));
    }

    @Test
    void valuesOutOfRangeAreRefusedBeforeTheModelOpens() {
        // The model does not exist: a value checked only after opening it would fail with 1, not 2.
        String missing = dir.resolve("nothing").toString();
        Path init = Fixtures.folder("pipeline").resolve("init_image.png");
        List<List<String>> badValues = List.of(List.of("--size", "500x512"), List.of("--size", "0x512"),
                List.of("--steps", "0"), List.of("--cfg", "-1"), List.of("--cfg", "NaN"), List.of("--threads", "0"),
                List.of("--device", "tpu"), List.of("--weights-dtype", "int8"));
        for (List<String> bad : badValues) {
            List<String> args = new ArrayList<>(List.of("txt2img", "--model", missing, "--prompt", "x"));
            args.addAll(bad);
            assertEquals(Jdiffusion.USAGE, run(args.toArray(String[]::new)), bad + ": " + err);
        }
        assertEquals(Jdiffusion.USAGE, run("img2img", "--model", missing, "--prompt", "x", "--init", init.toString(),
                "--strength", "1.5"));
        String said = err.toString();
        for (String words : List.of("--size must be WIDTHxHEIGHT in positive multiples of 8", "--steps must be >= 1",
                "--cfg must be a finite number", "--threads must be >= 1", "unknown device 'tpu'", "--strength must be in",
                "--weights-dtype must be f16, bf16 or f32")) {
            assertTrue(said.contains(words), "says " + words + ": " + said);
        }
    }

    @Test
    void anOutputThatCannotBeWrittenIsRefusedBeforeTheModelOpens() throws Exception {
        Path file = Files.writeString(dir.resolve("notes.txt"), "a file, not a folder");
        String missing = dir.resolve("nothing").toString();
        assertEquals(Jdiffusion.USAGE, run("txt2img", "--model", missing, "--prompt", "x", "--out",
                file.resolve("cat.png").toString()));
        assertEquals(Jdiffusion.USAGE, run("txt2img", "--model", missing, "--prompt", "x", "--out", file.toString()));
        assertTrue(err.toString().contains(file + " is a file, not a folder"), err.toString());
    }

    @Test
    void aClipSkipPastTheModelsLayersIsABadCommandLine() {
        int code = run("txt2img", "--model", Fixtures.folder("pipeline").toString(), "--prompt", "x", "--clip-skip", "30",
                "--out", dir.toString());
        assertEquals(Jdiffusion.USAGE, code, err.toString());
        assertTrue(err.toString().contains("A1111's Clip skip 30, which goes from 1 to 3"), err.toString());
    }

    @Test
    void aModelThatCannotBeFoundFailsWithOne() {
        assertEquals(Jdiffusion.FAILED, run("txt2img", "--model", dir.resolve("nothing").toString(), "--prompt", "x"));
        assertEquals(Jdiffusion.FAILED, run("txt2img", "--model", "someone/not-cached", "--offline", "--prompt", "x"));
        assertTrue(err.toString().contains("offline mode") && err.toString().contains("someone/not-cached is not in the "
                + "Hugging Face cache"), err.toString());
    }
}
