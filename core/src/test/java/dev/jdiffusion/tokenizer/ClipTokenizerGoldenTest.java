package dev.jdiffusion.tokenizer;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.testing.Fixtures;
import dev.jdiffusion.weights.json.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every case of {@code tokenizer/cases.json} against transformers' {@code CLIPTokenizer}. */
class ClipTokenizerGoldenTest {
    /**
     * Cases whose ftfy columns need ftfy's mojibake repair, which {@link TextCleaning#FTFY} does not
     * reproduce; every other case must match with ftfy cleaning too.
     */
    private static final List<String> FTFY_NOT_REPRODUCED = List.of("mojibake cafÃ© â€œquoteâ€\u009d");

    private static Path folder() {
        return Fixtures.folder("tokenizer");
    }

    private static ClipTokenizer sd1() {
        return ClipTokenizer.load(folder().resolve("vocab.json"), folder().resolve("merges.txt"));
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> cases() throws Exception {
        return (List<Map<String, Object>>) Json.parseObject(Files.readString(folder().resolve("cases.json"))).get("cases");
    }

    private static String name(Map<String, Object> c) {
        return "prompt \"" + c.get("prompt") + "\"";
    }

    private static int[] ints(Object list) {
        return ((List<?>) list).stream().mapToInt(v -> ((Long) v).intValue()).toArray();
    }

    @TestFactory
    Stream<DynamicTest> withoutFtfyEveryCaseMatches() throws Exception {
        ClipTokenizer sd1 = sd1();
        ClipTokenizer sd2 = sd1.withPadToken("!");
        return cases().stream().map(c -> DynamicTest.dynamicTest(name(c), () -> {
            String prompt = (String) c.get("prompt");
            TokenizedPrompt p1 = sd1.encodeForModel(prompt);
            TokenizedPrompt p2 = sd2.encodeForModel(prompt);
            assertAll(
                    () -> assertEquals(c.get("tokens"), sd1.tokenize(prompt), "tokens"),
                    () -> assertArrayEquals(ints(c.get("ids_unpadded")), sd1.encode(prompt), "ids_unpadded"),
                    () -> assertArrayEquals(ints(c.get("ids_sd1")), p1.ids(), "ids_sd1"),
                    () -> assertArrayEquals(ints(c.get("attention_mask_sd1")), p1.attentionMask(), "attention_mask_sd1"),
                    () -> assertArrayEquals(ints(c.get("ids_sd2")), p2.ids(), "ids_sd2"),
                    () -> assertArrayEquals(ints(c.get("attention_mask_sd2")), p2.attentionMask(), "attention_mask_sd2"));
        }));
    }

    @TestFactory
    Stream<DynamicTest> withFtfyCleaningEveryReproducibleCaseMatches() throws Exception {
        ClipTokenizer sd1 = sd1().withCleaning(TextCleaning.FTFY);
        ClipTokenizer sd2 = sd1.withPadToken("!");
        return cases().stream()
                .filter(c -> !FTFY_NOT_REPRODUCED.contains((String) c.get("prompt")))
                .map(c -> DynamicTest.dynamicTest(name(c), () -> {
                    String prompt = (String) c.get("prompt");
                    assertAll(
                            () -> assertEquals(c.get("tokens_ftfy"), sd1.tokenize(prompt), "tokens_ftfy"),
                            () -> assertArrayEquals(ints(c.get("ids_unpadded_ftfy")), sd1.encode(prompt), "ids_unpadded_ftfy"),
                            () -> assertArrayEquals(ints(c.get("ids_sd1_ftfy")), sd1.encodeForModel(prompt).ids(), "ids_sd1_ftfy"),
                            () -> assertArrayEquals(ints(c.get("ids_sd2_ftfy")), sd2.encodeForModel(prompt).ids(), "ids_sd2_ftfy"));
                }));
    }

    @Test
    void theCasesNotReproducedWithFtfyReallyDiffer() throws Exception {
        // Keeps FTFY_NOT_REPRODUCED honest: each listed case exists and needs the missing repair.
        ClipTokenizer ftfy = sd1().withCleaning(TextCleaning.FTFY);
        List<String> found = new ArrayList<>();
        for (Map<String, Object> c : cases()) {
            if (FTFY_NOT_REPRODUCED.contains((String) c.get("prompt"))) {
                found.add((String) c.get("prompt"));
                assertFalse(java.util.Arrays.equals(ints(c.get("ids_unpadded_ftfy")), ftfy.encode((String) c.get("prompt"))));
            }
        }
        assertEquals(FTFY_NOT_REPRODUCED, found);
    }

    @Test
    void longPromptsAreTruncatedAsTheReferenceDoesAndSayWhatWasDropped() throws Exception {
        ClipTokenizer tokenizer = sd1();
        String prompt = "a " .repeat(80) + "zebra";
        TokenizedPrompt p = tokenizer.encodeForModel(prompt);
        assertEquals(ClipTokenizer.MAX_LENGTH, p.ids().length);
        assertEquals(tokenizer.eosId(), p.ids()[76]);
        assertTrue(p.truncated());
        assertEquals(6, p.droppedTokens());
        assertEquals("a a a a a zebra", p.droppedText());
    }

    @Test
    void decodeGivesBackTheCleanedText() throws Exception {
        ClipTokenizer tokenizer = sd1();
        assertEquals("a photo of a cat 🐱, café", tokenizer.decode(tokenizer.encode("A photo of a CAT 🐱, café")));
    }

    @Test
    void loadsAModelTokenizerFolderWithItsPadToken() {
        Path folder = Fixtures.folder("pipeline").resolve("tokenizer");
        ClipTokenizer tokenizer = ClipTokenizer.load(folder);
        assertEquals(49407, tokenizer.padId());
        assertEquals(49408, tokenizer.vocabularySize());
    }
}
