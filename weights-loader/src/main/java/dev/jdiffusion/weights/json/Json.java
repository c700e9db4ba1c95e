package dev.jdiffusion.weights.json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON reader and writer (RFC 8259) for headers and configuration files. The one
 * extension: {@code NaN}, {@code Infinity} and {@code -Infinity}, which Python's {@code json} writes and
 * diffusers' configs therefore contain (e.g. {@code "lambda_min_clipped": -Infinity}).
 *
 * <p>Objects become insertion-ordered {@code Map<String, Object>}, arrays {@code List<Object>},
 * integers without fraction or exponent {@code Long}, other numbers {@code Double}, and
 * {@code true/false/null} {@code Boolean} or {@code null}. Duplicate keys are refused and nesting is
 * bounded, so hostile input costs linear time and constant stack.
 */
public final class Json {
    /** Deeper nesting than this is refused: real headers and configs are a handful of levels deep. */
    public static final int MAX_DEPTH = 128;

    private final String text;
    private int pos;

    private Json(String text) {
        this.text = text;
    }

    /** Parses one JSON value that must span the whole text (surrounding whitespace allowed). */
    public static Object parse(String text) {
        Json parser = new Json(text);
        parser.skipWhitespace();
        Object value = parser.readValue(0);
        parser.skipWhitespace();
        if (parser.pos != text.length()) {
            throw new JsonException("unexpected text after the JSON value", parser.pos);
        }
        return value;
    }

    /** Parses text that must be a JSON object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text) {
        Object value = parse(text);
        if (!(value instanceof Map)) {
            throw new JsonException("expected a JSON object, found " + typeName(value), 0);
        }
        return (Map<String, Object>) value;
    }

    /** The JSON type name of a parsed value, for error messages. */
    public static String typeName(Object value) {
        return switch (value) {
            case null -> "null";
            case Map<?, ?> m -> "an object";
            case List<?> l -> "an array";
            case String s -> "a string";
            case Boolean b -> "a boolean";
            case Number n -> "a number";
            default -> value.getClass().getSimpleName();
        };
    }

    private Object readValue(int depth) {
        if (depth > MAX_DEPTH) {
            throw new JsonException("nesting deeper than " + MAX_DEPTH, pos);
        }
        if (pos >= text.length()) {
            throw new JsonException("unexpected end of text", pos);
        }
        char c = text.charAt(pos);
        return switch (c) {
            case '{' -> readObject(depth);
            case '[' -> readArray(depth);
            case '"' -> readString();
            case 't' -> readLiteral("true", Boolean.TRUE);
            case 'f' -> readLiteral("false", Boolean.FALSE);
            case 'n' -> readLiteral("null", null);
            case 'N' -> readLiteral("NaN", Double.NaN);
            case 'I' -> readLiteral("Infinity", Double.POSITIVE_INFINITY);
            default -> {
                if (c == '-' && text.startsWith("-Infinity", pos)) {
                    yield readLiteral("-Infinity", Double.NEGATIVE_INFINITY);
                }
                if (c == '-' || (c >= '0' && c <= '9')) {
                    yield readNumber();
                }
                throw new JsonException("unexpected character '" + printable(c) + "'", pos);
            }
        };
    }

    private Map<String, Object> readObject(int depth) {
        pos++; // '{'
        Map<String, Object> map = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            return map;
        }
        while (true) {
            skipWhitespace();
            if (peek() != '"') {
                throw new JsonException("expected a string key", pos);
            }
            int keyPos = pos;
            String key = readString();
            skipWhitespace();
            expect(':');
            skipWhitespace();
            Object value = readValue(depth + 1);
            if (map.containsKey(key)) {
                throw new DuplicateKeyException(key, keyPos);
            }
            map.put(key, value);
            skipWhitespace();
            char c = next("',' or '}'");
            if (c == '}') {
                return map;
            }
            if (c != ',') {
                throw new JsonException("expected ',' or '}' but found '" + printable(c) + "'", pos - 1);
            }
        }
    }

    private List<Object> readArray(int depth) {
        pos++; // '['
        List<Object> list = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']') {
            pos++;
            return list;
        }
        while (true) {
            skipWhitespace();
            list.add(readValue(depth + 1));
            skipWhitespace();
            char c = next("',' or ']'");
            if (c == ']') {
                return list;
            }
            if (c != ',') {
                throw new JsonException("expected ',' or ']' but found '" + printable(c) + "'", pos - 1);
            }
        }
    }

    private String readString() {
        pos++; // opening quote
        StringBuilder sb = null;
        int runStart = pos;
        while (true) {
            if (pos >= text.length()) {
                throw new JsonException("unterminated string", runStart - 1);
            }
            char c = text.charAt(pos);
            if (c == '"') {
                String s = sb == null ? text.substring(runStart, pos) : sb.append(text, runStart, pos).toString();
                pos++;
                return s;
            }
            if (c < 0x20) {
                throw new JsonException("unescaped control character in string", pos);
            }
            if (c != '\\') {
                pos++;
                continue;
            }
            if (sb == null) {
                sb = new StringBuilder();
            }
            sb.append(text, runStart, pos);
            pos++;
            char e = next("an escape character");
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> sb.append(readHex4());
                default -> throw new JsonException("invalid escape '\\" + printable(e) + "'", pos - 1);
            }
            runStart = pos;
        }
    }

    private char readHex4() {
        if (pos + 4 > text.length()) {
            throw new JsonException("truncated \\u escape", pos);
        }
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(text.charAt(pos + i), 16);
            if (d < 0) {
                throw new JsonException("invalid hex digit in \\u escape", pos + i);
            }
            v = (v << 4) | d;
        }
        pos += 4;
        return (char) v;
    }

    private Object readNumber() {
        int start = pos;
        boolean integral = true;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
        } else if (isDigit(peek())) {
            while (isDigit(peek())) {
                pos++;
            }
        } else {
            throw new JsonException("invalid number", start);
        }
        if (peek() == '.') {
            integral = false;
            pos++;
            if (!isDigit(peek())) {
                throw new JsonException("invalid number: digits expected after '.'", pos);
            }
            while (isDigit(peek())) {
                pos++;
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            if (!isDigit(peek())) {
                throw new JsonException("invalid number: digits expected in exponent", pos);
            }
            while (isDigit(peek())) {
                pos++;
            }
        }
        String token = text.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(token);
            } catch (NumberFormatException tooLarge) {
                return Double.parseDouble(token);
            }
        }
        return Double.parseDouble(token);
    }

    private Object readLiteral(String word, Object value) {
        if (!text.startsWith(word, pos)) {
            throw new JsonException("unexpected token, expected " + word, pos);
        }
        pos += word.length();
        return value;
    }

    private void skipWhitespace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private char next(String expected) {
        if (pos >= text.length()) {
            throw new JsonException("unexpected end of text, expected " + expected, pos);
        }
        return text.charAt(pos++);
    }

    private void expect(char c) {
        char found = next("'" + c + "'");
        if (found != c) {
            throw new JsonException("expected '" + c + "' but found '" + printable(found) + "'", pos - 1);
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static String printable(char c) {
        return c < 0x20 || c > 0x7e ? String.format("\\u%04x", (int) c) : String.valueOf(c);
    }

    // ---------------------------------------------------------------- writing

    /** Writes a value made of maps, lists, strings, numbers, booleans, nulls, and long/int arrays. */
    public static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object value) {
        switch (value) {
            case null -> sb.append("null");
            case String s -> writeString(sb, s);
            case Boolean b -> sb.append(b);
            case Double d when d.isNaN() || d.isInfinite() ->
                    throw new IllegalArgumentException("JSON cannot hold " + d);
            case Float f when f.isNaN() || f.isInfinite() ->
                    throw new IllegalArgumentException("JSON cannot hold " + f);
            case Number n -> sb.append(n);
            case Map<?, ?> map -> {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    writeString(sb, String.valueOf(e.getKey()));
                    sb.append(':');
                    write(sb, e.getValue());
                }
                sb.append('}');
            }
            case List<?> list -> {
                sb.append('[');
                for (int i = 0; i < list.size(); i++) {
                    if (i > 0) {
                        sb.append(',');
                    }
                    write(sb, list.get(i));
                }
                sb.append(']');
            }
            case long[] a -> {
                List<Object> boxed = new ArrayList<>(a.length);
                for (long v : a) {
                    boxed.add(v);
                }
                write(sb, boxed);
            }
            case int[] a -> {
                List<Object> boxed = new ArrayList<>(a.length);
                for (int v : a) {
                    boxed.add(v);
                }
                write(sb, boxed);
            }
            default -> throw new IllegalArgumentException("cannot write " + value.getClass().getName() + " as JSON");
        }
    }

    private static void writeString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
