package dev.jdiffusion.tokenizer;

import dev.jdiffusion.weights.json.Json;
import dev.jdiffusion.weights.json.JsonException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CLIP BPE tokenizer, equal to transformers' {@code CLIPTokenizer} (the one Stable Diffusion
 * pipelines use), loaded from a model's {@code tokenizer/} folder ({@code vocab.json}, {@code merges.txt},
 * and the special-token files when present). Immutable and safe to share between threads.
 *
 * <p>A prompt is cleaned ({@link TextCleaning}), special tokens written in it are split out, the rest
 * is cut into words by CLIP's pattern and each word byte-pair encoded. For the text encoder,
 * {@link #encodeForModel} adds BOS and EOS and pads to {@value #MAX_LENGTH} ids; a longer prompt keeps
 * its first {@code MAX_LENGTH - 2} tokens, as the reference does, and says what it dropped.
 */
public final class ClipTokenizer {
    public static final int MAX_LENGTH = 77;
    public static final String START_OF_TEXT = "<|startoftext|>";
    public static final String END_OF_TEXT = "<|endoftext|>";

    private static final System.Logger LOG = System.getLogger(ClipTokenizer.class.getName());
    private static final Pattern WORDS = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);

    private final Map<String, Integer> vocab;
    private final String[] tokensById;
    private final BytePairEncoder bpe;
    private final TextCleaning cleaning;
    private final String padToken;
    private final List<String> specialTokens;

    private ClipTokenizer(Map<String, Integer> vocab, String[] tokensById, BytePairEncoder bpe, TextCleaning cleaning,
            String padToken) {
        this.vocab = vocab;
        this.tokensById = tokensById;
        this.bpe = bpe;
        this.cleaning = cleaning;
        this.padToken = padToken;
        List<String> special = new ArrayList<>(List.of(START_OF_TEXT, END_OF_TEXT));
        if (!special.contains(padToken)) {
            special.add(padToken); // transformers splits every special token out of the text, the pad token too
        }
        special.sort((a, b) -> b.length() - a.length());
        this.specialTokens = List.copyOf(special);
    }

    /**
     * Loads a tokenizer folder: {@code vocab.json} and {@code merges.txt}, and the pad token from
     * {@code special_tokens_map.json} when it names one ({@code "!"} for SD 2.x, EOS for SD 1.x).
     */
    public static ClipTokenizer load(Path folder) {
        ClipTokenizer tokenizer = load(folder.resolve("vocab.json"), folder.resolve("merges.txt"));
        Path specialTokensMap = folder.resolve("special_tokens_map.json");
        if (Files.exists(specialTokensMap)) {
            Object pad = parse(specialTokensMap).get("pad_token");
            if (pad instanceof Map<?, ?> token) {
                pad = token.get("content");
            }
            if (pad instanceof String padToken) {
                tokenizer = tokenizer.withPadToken(padToken);
            }
        }
        return tokenizer;
    }

    /** Loads the vocabulary and merges, with SD 1.x's padding (EOS) and {@link TextCleaning#BASIC}. */
    public static ClipTokenizer load(Path vocabJson, Path mergesTxt) {
        Map<String, Integer> vocab = new HashMap<>();
        int maxId = -1;
        for (Map.Entry<String, Object> e : parse(vocabJson).entrySet()) {
            if (!(e.getValue() instanceof Long id) || id < 0 || id > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(vocabJson + ": the id of token '" + e.getKey() + "' is not a valid id");
            }
            vocab.put(e.getKey(), id.intValue());
            maxId = Math.max(maxId, id.intValue());
        }
        String[] tokensById = new String[maxId + 1];
        vocab.forEach((token, id) -> tokensById[id] = token);
        for (String required : List.of(START_OF_TEXT, END_OF_TEXT)) {
            if (!vocab.containsKey(required)) {
                throw new IllegalArgumentException(vocabJson + " has no " + required + ": not a CLIP vocabulary");
            }
        }

        Map<String, Integer> ranks = new HashMap<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(mergesTxt);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + mergesTxt, e);
        }
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if ((i == 0 && line.startsWith("#version")) || line.isBlank()) {
                continue;
            }
            String[] pair = line.split(" ");
            if (pair.length != 2) {
                throw new IllegalArgumentException(mergesTxt + " line " + (i + 1) + " is not a pair of symbols: '" + line + "'");
            }
            ranks.putIfAbsent(pair[0] + " " + pair[1], ranks.size());
        }
        BytePairEncoder bpe = new BytePairEncoder(ranks, List.of(START_OF_TEXT, END_OF_TEXT));
        return new ClipTokenizer(vocab, tokensById, bpe, TextCleaning.BASIC, END_OF_TEXT);
    }

    private static Map<String, Object> parse(Path file) {
        try {
            return Json.parseObject(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (JsonException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** The same tokenizer padding with {@code token} (which must be in the vocabulary). */
    public ClipTokenizer withPadToken(String token) {
        if (!vocab.containsKey(token)) {
            throw new IllegalArgumentException("pad token '" + token + "' is not in the vocabulary");
        }
        return new ClipTokenizer(vocab, tokensById, bpe, cleaning, token);
    }

    /** The same tokenizer cleaning text the given way. */
    public ClipTokenizer withCleaning(TextCleaning textCleaning) {
        return new ClipTokenizer(vocab, tokensById, bpe, textCleaning, padToken);
    }

    public TextCleaning cleaning() {
        return cleaning;
    }

    public int bosId() {
        return vocab.get(START_OF_TEXT);
    }

    public int eosId() {
        return vocab.get(END_OF_TEXT);
    }

    public int padId() {
        return vocab.get(padToken);
    }

    public int vocabularySize() {
        return tokensById.length;
    }

    /** The BPE tokens of a prompt, without BOS and EOS (transformers' {@code tokenize}). */
    public List<String> tokenize(String prompt) {
        List<String> tokens = new ArrayList<>();
        for (String piece : splitSpecialTokens(prompt)) {
            if (specialTokens.contains(piece)) {
                tokens.add(piece);
                continue;
            }
            Matcher words = WORDS.matcher(cleaning.clean(piece));
            while (words.find()) {
                tokens.addAll(Arrays.asList(bpe.encode(BytePairEncoder.toByteLevel(words.group()))));
            }
        }
        return tokens;
    }

    /** BOS, the prompt's token ids, EOS; no padding and no truncation. */
    public int[] encode(String prompt) {
        List<String> tokens = tokenize(prompt);
        int[] ids = new int[tokens.size() + 2];
        ids[0] = bosId();
        for (int i = 0; i < tokens.size(); i++) {
            ids[i + 1] = idOf(tokens.get(i));
        }
        ids[ids.length - 1] = eosId();
        return ids;
    }

    /**
     * Exactly {@value #MAX_LENGTH} ids for the text encoder: a prompt of more than {@code MAX_LENGTH - 2}
     * tokens keeps its first ones and ends with EOS, and a warning names the dropped text.
     */
    public TokenizedPrompt encodeForModel(String prompt) {
        List<String> tokens = tokenize(prompt);
        int kept = Math.min(tokens.size(), MAX_LENGTH - 2);
        int[] ids = new int[MAX_LENGTH];
        int[] mask = new int[MAX_LENGTH];
        Arrays.fill(ids, padId());
        ids[0] = bosId();
        for (int i = 0; i < kept; i++) {
            ids[i + 1] = idOf(tokens.get(i));
        }
        ids[kept + 1] = eosId();
        Arrays.fill(mask, 0, kept + 2, 1);
        List<String> dropped = tokens.subList(kept, tokens.size());
        String droppedText = dropped.isEmpty() ? "" : textOf(dropped);
        if (!dropped.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "The prompt is longer than CLIP's " + (MAX_LENGTH - 2)
                    + " tokens; this part was cut off: \"" + droppedText + "\"");
        }
        return new TokenizedPrompt(ids, mask, dropped.size(), droppedText);
    }

    /** The text that ids stand for (special tokens and padding dropped). */
    public String decode(int[] ids) {
        List<String> tokens = new ArrayList<>();
        for (int id : ids) {
            if (id < 0 || id >= tokensById.length || tokensById[id] == null) {
                throw new IllegalArgumentException("id " + id + " is not in the vocabulary");
            }
            if (id != bosId() && id != eosId() && id != padId()) {
                tokens.add(tokensById[id]);
            }
        }
        return textOf(tokens);
    }

    private static String textOf(List<String> tokens) {
        StringBuilder symbols = new StringBuilder();
        for (String token : tokens) {
            if (token.endsWith(BytePairEncoder.END_OF_WORD)) {
                symbols.append(token, 0, token.length() - BytePairEncoder.END_OF_WORD.length()).append(' ');
            } else {
                symbols.append(token);
            }
        }
        // decoded as a whole: a character's UTF-8 bytes may be spread over several tokens
        return BytePairEncoder.fromByteLevel(symbols.toString()).strip();
    }

    private int idOf(String token) {
        Integer id = vocab.get(token);
        return id != null ? id : eosId(); // CLIP's unknown token is EOS; byte-level BPE makes it unreachable
    }

    /** Splits out the special tokens written in the text, longest first, as transformers' trie does. */
    private List<String> splitSpecialTokens(String text) {
        List<String> pieces = new ArrayList<>();
        int start = 0;
        int i = 0;
        outer:
        while (i < text.length()) {
            for (String special : specialTokens) {
                if (text.startsWith(special, i)) {
                    if (i > start) {
                        pieces.add(text.substring(start, i));
                    }
                    pieces.add(special);
                    i += special.length();
                    start = i;
                    continue outer;
                }
            }
            i++;
        }
        if (start < text.length()) {
            pieces.add(text.substring(start));
        }
        return pieces;
    }
}
