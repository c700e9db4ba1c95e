package dev.jdiffusion.weights.hub;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where models come from and go: the hub's address, the access token, whether the network may be used, and
 * the local cache. Read from the environment variables huggingface_hub reads, so that both share one setup:
 * {@code HF_ENDPOINT} (default {@code https://huggingface.co}), {@code HF_TOKEN} (else the token file
 * {@code HF_TOKEN_PATH}, default {@code HF_HOME/token}), {@code HF_HUB_OFFLINE=1}, and the cache folders of
 * {@link HubCache}.
 */
public record HubSettings(URI endpoint, Optional<String> token, boolean offline, HubCache cache) {
    public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");
    private static final Set<String> TRUE = Set.of("1", "on", "yes", "true");

    public HubSettings {
        String scheme = endpoint.getScheme();
        if (!"https".equals(scheme) && !"http".equals(scheme)) {
            throw new IllegalArgumentException("hub endpoint must be an http(s) address, got " + endpoint);
        }
        String text = endpoint.toString();
        if (text.endsWith("/")) {
            endpoint = URI.create(text.substring(0, text.length() - 1));
        }
    }

    /** The settings the environment gives. */
    public static HubSettings fromEnvironment() {
        return fromEnvironment(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    static HubSettings fromEnvironment(Map<String, String> env, Path home) {
        String endpoint = env.getOrDefault("HF_ENDPOINT", "");
        boolean offline = TRUE.contains(env.getOrDefault("HF_HUB_OFFLINE", "").trim().toLowerCase(Locale.ROOT));
        return new HubSettings(endpoint.isBlank() ? DEFAULT_ENDPOINT : URI.create(endpoint.trim()), token(env, home),
                offline, HubCache.fromEnvironment(env, home));
    }

    /** The same settings with the network off (or on). */
    public HubSettings withOffline(boolean offline) {
        return new HubSettings(endpoint, token, offline, cache);
    }

    static Path hfHome(Map<String, String> env, Path home) {
        String hfHome = env.get("HF_HOME");
        if (hfHome != null && !hfHome.isBlank()) {
            return Path.of(hfHome);
        }
        String xdgCache = env.get("XDG_CACHE_HOME");
        Path cacheHome = xdgCache != null && !xdgCache.isBlank() ? Path.of(xdgCache) : home.resolve(".cache");
        return cacheHome.resolve("huggingface");
    }

    private static Optional<String> token(Map<String, String> env, Path home) {
        for (String name : new String[] {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
            String value = env.get(name);
            if (value != null && !value.isBlank()) {
                return Optional.of(value.trim());
            }
        }
        String tokenPath = env.get("HF_TOKEN_PATH");
        Path file = tokenPath != null && !tokenPath.isBlank() ? Path.of(tokenPath) : hfHome(env, home).resolve("token");
        try {
            if (Files.isRegularFile(file)) {
                String value = Files.readString(file).trim();
                return value.isEmpty() ? Optional.empty() : Optional.of(value);
            }
        } catch (IOException e) {
            System.getLogger(HubSettings.class.getName()).log(System.Logger.Level.WARNING,
                    "cannot read the Hugging Face token file {0}: {1}", file, e.toString());
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        // Never print the token itself.
        return "HubSettings[endpoint=" + endpoint + ", token=" + (token.isPresent() ? "set" : "none") + ", offline="
                + offline + ", cache=" + cache.root() + "]";
    }
}
