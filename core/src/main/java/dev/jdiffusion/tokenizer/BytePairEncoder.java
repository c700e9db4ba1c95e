package dev.jdiffusion.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * CLIP's byte-level BPE: a word's UTF-8 bytes are mapped to printable characters (GPT-2's
 * {@code bytes_to_unicode}), the last symbol gets the end-of-word marker {@code </w>}, and the
 * lowest-ranked adjacent pair is merged until no ranked pair is left.
 */
final class BytePairEncoder {
    static final String END_OF_WORD = "</w>";
    private static final int CACHE_LIMIT = 1 << 16;

    private static final char[] BYTE_TO_CHAR = byteToChar();

    private final Map<String, Integer> ranks;
    private final Map<String, String[]> cache = new ConcurrentHashMap<>();

    /** @param ranks merge rank by {@code first + " " + second} */
    BytePairEncoder(Map<String, Integer> ranks, List<String> preMerged) {
        this.ranks = ranks;
        for (String token : preMerged) {
            cache.put(token, new String[] {token});
        }
    }

    /** The byte-level form of a word: each UTF-8 byte as one printable character. */
    static String toByteLevel(String word) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            chars[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(chars);
    }

    /**
     * Inverse of {@link #toByteLevel}; a plain space (never a byte-level character) stays a space, so
     * words can be separated. Invalid UTF-8 becomes U+FFFD.
     */
    static String fromByteLevel(String symbols) {
        byte[] bytes = new byte[symbols.length()];
        int n = 0;
        for (int i = 0; i < symbols.length(); i++) {
            char c = symbols.charAt(i);
            int b = c == ' ' ? ' ' : charToByte(c);
            if (b >= 0) {
                bytes[n++] = (byte) b;
            }
        }
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
    }

    /** The BPE symbols of a byte-level word. */
    String[] encode(String byteLevelWord) {
        String[] cached = cache.get(byteLevelWord);
        if (cached != null) {
            return cached;
        }
        String[] result = merge(byteLevelWord);
        if (cache.size() >= CACHE_LIMIT) {
            cache.clear();
        }
        cache.put(byteLevelWord, result);
        return result;
    }

    private String[] merge(String word) {
        List<String> symbols = new ArrayList<>(word.length());
        for (int i = 0; i < word.length() - 1; i++) {
            symbols.add(String.valueOf(word.charAt(i)));
        }
        symbols.add(word.charAt(word.length() - 1) + END_OF_WORD);
        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String bestFirst = null;
            String bestSecond = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer rank = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    bestFirst = symbols.get(i);
                    bestSecond = symbols.get(i + 1);
                }
            }
            if (bestFirst == null) {
                break;
            }
            // Merge every non-overlapping occurrence of the pair, left to right.
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(bestFirst) && symbols.get(i + 1).equals(bestSecond)) {
                    merged.add(bestFirst + bestSecond);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols = merged;
        }
        return symbols.toArray(String[]::new);
    }

    /** GPT-2's table: printable Latin-1 bytes map to themselves, the other 68 to U+0100 onwards. */
    private static char[] byteToChar() {
        char[] table = new char[256];
        boolean[] printable = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            printable[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            printable[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            printable[b] = true;
        }
        int next = 0;
        for (int b = 0; b < 256; b++) {
            table[b] = printable[b] ? (char) b : (char) (256 + next++);
        }
        return table;
    }

    private static final int[] CHAR_TO_BYTE = charToByteTable();

    private static int[] charToByteTable() {
        int[] inverse = new int[512];
        Arrays.fill(inverse, -1);
        for (int b = 0; b < 256; b++) {
            inverse[BYTE_TO_CHAR[b]] = b;
        }
        return inverse;
    }

    private static int charToByte(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }
}
