package dev.jdiffusion.weights.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.weights.WeightsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HubCacheTest {
    @TempDir
    Path dir;

    private static final String COMMIT = "39593d5650112b4cc580433f6b0435385882d819";

    private Path repo() throws Exception {
        Path repo = dir.resolve("models--stable-diffusion-v1-5--stable-diffusion-v1-5");
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), COMMIT + "\n");
        Files.createDirectories(repo.resolve("snapshots").resolve(COMMIT).resolve("unet"));
        return repo;
    }

    @Test
    void resolvesABranchToItsSnapshot() throws Exception {
        Path repo = repo();
        HubCache cache = new HubCache(dir);
        assertEquals(repo.resolve("snapshots").resolve(COMMIT), cache.snapshot("stable-diffusion-v1-5/stable-diffusion-v1-5"));
        assertEquals(repo.resolve("snapshots").resolve(COMMIT),
                cache.snapshot("stable-diffusion-v1-5/stable-diffusion-v1-5@" + COMMIT));
    }

    @Test
    void saysWhatIsMissing() throws Exception {
        repo();
        HubCache cache = new HubCache(dir);
        WeightsException absent = assertThrows(WeightsException.class, () -> cache.snapshot("stabilityai/stable-diffusion-2-1-base"));
        assertTrue(absent.getMessage().contains("not in the Hugging Face cache"), absent.getMessage());
        assertThrows(WeightsException.class, () -> cache.snapshot("stable-diffusion-v1-5/stable-diffusion-v1-5@fp16"));
        assertThrows(IllegalArgumentException.class, () -> cache.snapshot("not a repo"));
    }

    @Test
    void findsTheCacheAsHuggingfaceHubDoes() {
        Path home = Path.of("/home/u");
        assertEquals(Path.of("/x"), HubCache.fromEnvironment(Map.of("HF_HUB_CACHE", "/x", "HF_HOME", "/y"), home).root());
        assertEquals(Path.of("/y/hub"), HubCache.fromEnvironment(Map.of("HF_HOME", "/y"), home).root());
        assertEquals(home.resolve(".cache/huggingface/hub"), HubCache.fromEnvironment(Map.of(), home).root());
    }

    @Test
    void recognisesRepoIds() {
        assertTrue(RepoReference.looksLikeRepoId("stabilityai/stable-diffusion-2-1-base@main"));
        assertFalse(RepoReference.looksLikeRepoId("models/sd/unet/x"));
        assertFalse(RepoReference.looksLikeRepoId("model.safetensors"));
    }
}
