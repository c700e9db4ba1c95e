package dev.jdiffusion.weights.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HubSettingsTest {
    @TempDir
    Path home;

    @Test
    void readsTheVariablesHuggingfaceHubReads() {
        HubSettings defaults = HubSettings.fromEnvironment(Map.of(), home);
        assertEquals(URI.create("https://huggingface.co"), defaults.endpoint());
        assertEquals(Optional.empty(), defaults.token());
        assertFalse(defaults.offline());
        assertEquals(home.resolve(".cache/huggingface/hub"), defaults.cache().root());

        HubSettings set = HubSettings.fromEnvironment(Map.of("HF_ENDPOINT", "http://mirror.local:8080/", "HF_TOKEN",
                "hf_abc", "HF_HUB_OFFLINE", "1", "XDG_CACHE_HOME", "/xdg"), home);
        assertEquals(URI.create("http://mirror.local:8080"), set.endpoint());
        assertEquals(Optional.of("hf_abc"), set.token());
        assertTrue(set.offline());
        assertEquals(Path.of("/xdg/huggingface/hub"), set.cache().root());
        for (String on : new String[] {"true", "YES", "on"}) {
            assertTrue(HubSettings.fromEnvironment(Map.of("HF_HUB_OFFLINE", on), home).offline(), on);
        }
        assertFalse(HubSettings.fromEnvironment(Map.of("HF_HUB_OFFLINE", "0"), home).offline());
    }

    @Test
    void takesTheTokenFromTheTokenFileWhenNoVariableHoldsOne() throws Exception {
        Path tokenFile = home.resolve(".cache/huggingface/token");
        Files.createDirectories(tokenFile.getParent());
        Files.writeString(tokenFile, "hf_from_file\n");
        assertEquals(Optional.of("hf_from_file"), HubSettings.fromEnvironment(Map.of(), home).token());
        assertEquals(Optional.of("hf_var"), HubSettings.fromEnvironment(Map.of("HF_TOKEN", "hf_var"), home).token());
        Path elsewhere = home.resolve("my-token");
        Files.writeString(elsewhere, "hf_elsewhere");
        assertEquals(Optional.of("hf_elsewhere"),
                HubSettings.fromEnvironment(Map.of("HF_TOKEN_PATH", elsewhere.toString()), home).token());
    }

    @Test
    void neverPrintsTheTokenAndRefusesNonHttpEndpoints() {
        HubSettings settings = HubSettings.fromEnvironment(Map.of("HF_TOKEN", "hf_secret"), home);
        assertFalse(settings.toString().contains("hf_secret"), settings.toString());
        assertThrows(IllegalArgumentException.class, () -> HubSettings.fromEnvironment(Map.of("HF_ENDPOINT", "file:///x"), home));
    }
}
