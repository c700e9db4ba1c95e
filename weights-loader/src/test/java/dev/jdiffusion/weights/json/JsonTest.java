package dev.jdiffusion.weights.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void readsEveryKindOfValue() {
        Object v = Json.parse(" {\"a\": [1, -2.5, 3e2, true, false, null], \"b\": {\"c\": \"x\\u00e9\\n\\\"\"}} ");
        assertEquals(Map.of("a", java.util.Arrays.asList(1L, -2.5, 300.0, true, false, null),
                "b", Map.of("c", "xé\n\"")), v);
    }

    @Test
    void readsPythonsNonFiniteNumbers() {
        assertEquals(java.util.Arrays.asList(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, Double.NaN),
                Json.parse("[-Infinity, Infinity, NaN]"));
    }

    @Test
    void keepsKeyOrder() {
        Map<String, Object> m = Json.parseObject("{\"z\":1,\"a\":2,\"m\":3}");
        assertEquals(List.of("z", "a", "m"), List.copyOf(m.keySet()));
    }

    @Test
    void decodesSurrogatePairs() {
        assertEquals("\uD83D\uDE00", Json.parse("\"\\ud83d\\ude00\""));
    }

    @Test
    void refusesDuplicateKeysNamingThem() {
        DuplicateKeyException e = assertThrows(DuplicateKeyException.class, () -> Json.parse("{\"k\":1,\"k\":2}"));
        assertEquals("k", e.key());
    }

    @Test
    void refusesMalformedText() {
        for (String bad : List.of("", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"abc", "tru", "{} x", "[1 2]",
                "\"\\x\"", "\"\u0001\"", "{1:2}", "\"\\u12\"", "1e")) {
            assertThrows(JsonException.class, () -> Json.parse(bad), bad);
        }
    }

    @Test
    void boundsNesting() {
        String deep = "[".repeat(Json.MAX_DEPTH + 2) + "]".repeat(Json.MAX_DEPTH + 2);
        assertThrows(JsonException.class, () -> Json.parse(deep));
        String fine = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        Json.parse(fine);
    }

    @Test
    void writesWhatItReads() {
        Map<String, Object> m = Json.parseObject("{\"s\":\"q\\\"\\\\\\t\\u0001é\",\"n\":[1,2.5,null,true],\"o\":{}}");
        assertEquals(m, Json.parse(Json.write(m)));
    }
}
