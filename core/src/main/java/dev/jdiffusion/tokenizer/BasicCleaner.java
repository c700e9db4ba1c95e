package dev.jdiffusion.tokenizer;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The text cleaning of transformers' {@code BasicTokenizer(do_lower_case=True, strip_accents=False,
 * do_split_on_punc=False)}, which {@code CLIPTokenizer} falls back to without ftfy.
 */
final class BasicCleaner {
    private BasicCleaner() {}

    static String clean(String text) {
        StringBuilder cleaned = new StringBuilder(text.length() + 8);
        text.codePoints().forEach(cp -> {
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                return; // deleted, not replaced by a space
            }
            if (isWhitespace(cp)) {
                cleaned.append(' ');
            } else if (isCjkIdeograph(cp)) {
                cleaned.append(' ').appendCodePoint(cp).append(' ');
            } else {
                cleaned.appendCodePoint(cp);
            }
        });
        String normalized = Normalizer.normalize(cleaned, Normalizer.Form.NFC);
        StringBuilder out = new StringBuilder(normalized.length());
        for (String word : splitOnWhitespace(normalized)) {
            if (!out.isEmpty()) {
                out.append(' ');
            }
            out.append(word.toLowerCase(Locale.ROOT));
        }
        return out.toString();
    }

    /** Python's {@code str.split()}: runs of whitespace separate words, none are empty. */
    private static List<String> splitOnWhitespace(String s) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        s.codePoints().forEach(cp -> {
            if (isPythonSpace(cp)) {
                if (!word.isEmpty()) {
                    words.add(word.toString());
                    word.setLength(0);
                }
            } else {
                word.appendCodePoint(cp);
            }
        });
        if (!word.isEmpty()) {
            words.add(word.toString());
        }
        return words;
    }

    /** {@code str.isspace()} for what can remain after cleaning: space and the line/paragraph separators. */
    private static boolean isPythonSpace(int cp) {
        return cp == ' ' || cp == 0x2028 || cp == 0x2029;
    }

    /** transformers' {@code _is_control}: category C*, except tab, newline and carriage return. */
    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.UNASSIGNED
                || type == Character.PRIVATE_USE || type == Character.SURROGATE;
    }

    /** transformers' {@code _is_whitespace}: space, tab, newline, carriage return, or category Zs. */
    private static boolean isWhitespace(int cp) {
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    /** The CJK Unified Ideographs blocks (not kana or hangul), as transformers' {@code _is_chinese_char}. */
    private static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
