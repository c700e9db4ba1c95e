package dev.jdiffusion.models;

import dev.jdiffusion.weights.json.Json;
import dev.jdiffusion.weights.json.JsonException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Typed reads from a parsed {@code config.json}, with errors that name the file and the key. */
public final class ConfigValues {
    private final String source;
    private final Map<String, Object> values;

    public ConfigValues(String source, Map<String, Object> values) {
        this.source = source;
        this.values = values;
    }

    /** Reads and parses a JSON config file. */
    public static ConfigValues read(Path file) {
        try {
            return new ConfigValues(file.toString(), Json.parseObject(Files.readString(file)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (JsonException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    public boolean has(String key) {
        return values.get(key) != null;
    }

    public int getInt(String key) {
        Object v = require(key);
        if (v instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
            return l.intValue();
        }
        throw wrongType(key, "an integer", v);
    }

    public int getInt(String key, int fallback) {
        return has(key) ? getInt(key) : fallback;
    }

    public double getDouble(String key) {
        Object v = require(key);
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw wrongType(key, "a number", v);
    }

    public double getDouble(String key, double fallback) {
        return has(key) ? getDouble(key) : fallback;
    }

    public String getString(String key) {
        Object v = require(key);
        if (v instanceof String s) {
            return s;
        }
        throw wrongType(key, "a string", v);
    }

    public String getString(String key, String fallback) {
        return has(key) ? getString(key) : fallback;
    }

    public boolean getBoolean(String key, boolean fallback) {
        if (!has(key)) {
            return fallback;
        }
        Object v = values.get(key);
        if (v instanceof Boolean b) {
            return b;
        }
        throw wrongType(key, "true or false", v);
    }

    /** A list of integers, or a single integer repeated {@code count} times. */
    public int[] getIntList(String key, int count) {
        Object v = require(key);
        int[] out = new int[count];
        if (v instanceof Long) {
            java.util.Arrays.fill(out, getInt(key));
            return out;
        }
        if (v instanceof List<?> list && list.size() == count && list.stream().allMatch(e -> e instanceof Long)) {
            for (int i = 0; i < count; i++) {
                out[i] = ((Long) list.get(i)).intValue();
            }
            return out;
        }
        throw wrongType(key, "an integer or a list of " + count + " integers", v);
    }

    /** The length of a list value. */
    public int listSize(String key) {
        Object v = require(key);
        if (v instanceof List<?> list) {
            return list.size();
        }
        throw wrongType(key, "a list", v);
    }

    /** A list of strings. */
    public List<String> getStringList(String key) {
        Object v = require(key);
        if (v instanceof List<?> list && list.stream().allMatch(e -> e instanceof String)) {
            return list.stream().map(String.class::cast).toList();
        }
        throw wrongType(key, "a list of strings", v);
    }

    private Object require(String key) {
        Object v = values.get(key);
        if (v == null) {
            throw new IllegalArgumentException(source + ": missing \"" + key + "\"");
        }
        return v;
    }

    private IllegalArgumentException wrongType(String key, String expected, Object found) {
        return new IllegalArgumentException(source + ": \"" + key + "\" must be " + expected + ", found " + found);
    }
}
