package dev.jdiffusion.tokenizer;

import java.text.Normalizer;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parts of {@code ftfy.fix_text} (v6) that prompts meet, followed by CLIP's whitespace cleaning
 * and lower-casing: HTML entities (unless the line looks like HTML), terminal escapes, C1 controls as
 * Windows-1252, Latin ligatures, full-width forms, curly quotes, line breaks, control characters, NFC.
 * Repeated until nothing changes, as ftfy does. Mojibake repair is not reproduced.
 */
final class FtfyCleaner {
    private static final Pattern ENTITY = Pattern.compile("&#?[0-9A-Za-z]{1,24};");
    private static final Pattern TERMINAL_ESCAPE = Pattern.compile("\u001b\\[((?:\\d|;)*)([a-zA-Z])");
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Map<String, String> NAMED_ENTITIES = namedEntities();
    private static final Map<Integer, String> LIGATURES = Map.ofEntries(
            Map.entry(0x0132, "IJ"), Map.entry(0x0133, "ij"), Map.entry(0x0149, "\u02BCn"), Map.entry(0x01C4, "D\u017D"),
            Map.entry(0x01C5, "D\u017E"), Map.entry(0x01C6, "d\u017E"), Map.entry(0x01C7, "LJ"), Map.entry(0x01C8, "Lj"),
            Map.entry(0x01C9, "lj"), Map.entry(0x01CA, "NJ"), Map.entry(0x01CB, "Nj"), Map.entry(0x01CC, "nj"),
            Map.entry(0xFB00, "ff"), Map.entry(0xFB01, "fi"), Map.entry(0xFB02, "fl"), Map.entry(0xFB03, "ffi"),
            Map.entry(0xFB04, "ffl"), Map.entry(0xFB05, "\u017Ft"), Map.entry(0xFB06, "st"));
    private static final java.nio.charset.Charset WINDOWS_1252 = java.nio.charset.Charset.forName("windows-1252");

    private FtfyCleaner() {}

    static String clean(String text) {
        StringBuilder fixed = new StringBuilder(text.length());
        int start = 0;
        while (start < text.length()) {
            int end = text.indexOf('\n', start) + 1;
            if (end == 0) {
                end = text.length();
            }
            fixed.append(fixSegment(text.substring(start, end)));
            start = end;
        }
        return WHITESPACE.matcher(fixed).replaceAll(" ").strip().toLowerCase(Locale.ROOT);
    }

    private static String fixSegment(String segment) {
        boolean unescapeHtml = segment.indexOf('<') < 0; // ftfy's "auto": text with tags is left as HTML
        String text = segment;
        while (true) {
            String before = text;
            if (unescapeHtml) {
                text = unescapeHtml(text);
            }
            text = TERMINAL_ESCAPE.matcher(text).replaceAll("");
            text = fixC1Controls(text);
            text = replaceCodePoints(text, LIGATURES);
            text = fixCharacterWidth(text);
            text = uncurlQuotes(text);
            text = text.replace("\r\n", "\n").replace('\r', '\n').replace('\u2028', '\n').replace('\u2029', '\n')
                    .replace('\u0085', '\n');
            text = removeControlCharacters(text);
            text = Normalizer.normalize(text, Normalizer.Form.NFC);
            if (text.equals(before)) {
                return text;
            }
        }
    }

    private static String unescapeHtml(String text) {
        Matcher m = ENTITY.matcher(text);
        return m.replaceAll(match -> Matcher.quoteReplacement(unescapeEntity(match.group())));
    }

    private static String unescapeEntity(String entity) {
        String body = entity.substring(1, entity.length() - 1);
        if (body.startsWith("#")) {
            try {
                boolean hex = body.length() > 1 && (body.charAt(1) == 'x' || body.charAt(1) == 'X');
                int cp = Integer.parseInt(body.substring(hex ? 2 : 1), hex ? 16 : 10);
                if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                    return "\uFFFD";
                }
                if (cp >= 0x80 && cp <= 0x9F) {
                    return new String(new byte[] {(byte) cp}, WINDOWS_1252); // as html.unescape does
                }
                return Character.toString(cp);
            } catch (NumberFormatException notNumeric) {
                return entity;
            }
        }
        String named = NAMED_ENTITIES.get(body);
        if (named == null && body.equals(body.toUpperCase(Locale.ROOT))) {
            // ftfy also reads an all-capitals name (&AMP;) as the upper case of its character
            String lower = NAMED_ENTITIES.get(body.toLowerCase(Locale.ROOT));
            named = lower == null ? null : lower.toUpperCase(Locale.ROOT);
        }
        return named != null ? named : entity;
    }

    /** C1 control characters (U+0080..U+009F) in text are almost always Windows-1252 bytes decoded as Latin-1. */
    private static String fixC1Controls(String text) {
        StringBuilder sb = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= 0x80 && c <= 0x9F) {
                if (sb == null) {
                    sb = new StringBuilder(text.substring(0, i));
                }
                String decoded = new String(new byte[] {(byte) c}, WINDOWS_1252);
                sb.append(decoded.equals("\uFFFD") ? String.valueOf(c) : decoded);
            } else if (sb != null) {
                sb.append(c);
            }
        }
        return sb == null ? text : sb.toString();
    }

    /** Full-width and half-width forms to their compatibility equivalents, and the ideographic space. */
    private static String fixCharacterWidth(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        text.codePoints().forEach(cp -> {
            if (cp == 0x3000) {
                sb.append(' ');
            } else if (cp >= 0xFF01 && cp <= 0xFFEF) {
                sb.append(Normalizer.normalize(Character.toString(cp), Normalizer.Form.NFKC));
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return sb.toString();
    }

    private static String uncurlQuotes(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) {
                sb.append('\'');
            } else if (c >= 0x201C && c <= 0x201F) {
                sb.append('"');
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** ftfy's list: C0 controls but tab, newline, form feed, carriage return; DEL; deprecated format chars; BOM. */
    private static String removeControlCharacters(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        text.codePoints().forEach(cp -> {
            boolean control = (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\f' && cp != '\r') || cp == 0x7F
                    || (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFC);
            if (!control) {
                sb.appendCodePoint(cp);
            }
        });
        return sb.toString();
    }

    private static String replaceCodePoints(String text, Map<Integer, String> replacements) {
        StringBuilder sb = new StringBuilder(text.length());
        text.codePoints().forEach(cp -> {
            String r = replacements.get(cp);
            if (r != null) {
                sb.append(r);
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return sb.toString();
    }

    /** The HTML named entities prompts use (HTML5 has some 2,200; these cover text, punctuation and Latin-1). */
    private static Map<String, String> namedEntities() {
        String table = "amp=&|lt=<|gt=>|quot=\"|apos='|nbsp=\u00A0|copy=\u00A9|reg=\u00AE|trade=\u2122|hellip=\u2026"
                + "|mdash=\u2014|ndash=\u2013|lsquo=\u2018|rsquo=\u2019|sbquo=\u201A|ldquo=\u201C|rdquo=\u201D"
                + "|bdquo=\u201E|laquo=\u00AB|raquo=\u00BB|bull=\u2022|middot=\u00B7|deg=\u00B0|plusmn=\u00B1"
                + "|times=\u00D7|divide=\u00F7|frac12=\u00BD|frac14=\u00BC|frac34=\u00BE|sup2=\u00B2|sup3=\u00B3"
                + "|micro=\u00B5|para=\u00B6|sect=\u00A7|cent=\u00A2|pound=\u00A3|euro=\u20AC|yen=\u00A5|iexcl=\u00A1"
                + "|iquest=\u00BF|shy=\u00AD|ensp=\u2002|emsp=\u2003|thinsp=\u2009|zwj=\u200D|zwnj=\u200C"
                + "|larr=\u2190|rarr=\u2192|uarr=\u2191|darr=\u2193|hearts=\u2665|star=\u2606|check=\u2713"
                + "|infin=\u221E|ne=\u2260|le=\u2264|ge=\u2265|szlig=\u00DF|aelig=\u00E6|AElig=\u00C6|oslash=\u00F8"
                + "|Oslash=\u00D8|aring=\u00E5|Aring=\u00C5|ccedil=\u00E7|Ccedil=\u00C7|ntilde=\u00F1|Ntilde=\u00D1"
                + "|eth=\u00F0|thorn=\u00FE|yuml=\u00FF";
        Map<String, String> map = new HashMap<>();
        for (String entry : table.split("\\|")) {
            int eq = entry.indexOf('=');
            map.put(entry.substring(0, eq), entry.substring(eq + 1));
        }
        // The accented Latin-1 letters follow one pattern: &eacute; &Agrave; &ouml; ...
        String[][] accents = {{"grave", "\u0300"}, {"acute", "\u0301"}, {"circ", "\u0302"}, {"tilde", "\u0303"},
                {"uml", "\u0308"}};
        for (char base : "aeiouyAEIOUY".toCharArray()) {
            for (String[] accent : accents) {
                String composed = Normalizer.normalize(base + accent[1], Normalizer.Form.NFC);
                if (composed.length() == 1 && composed.charAt(0) < 0x100) {
                    map.put(base + accent[0], composed);
                }
            }
        }
        return Map.copyOf(map);
    }
}
