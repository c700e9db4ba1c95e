package dev.jdiffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.testing.Fixtures;
import dev.jdiffusion.weights.hub.HubCache;
import dev.jdiffusion.weights.hub.HubSettings;
import dev.jdiffusion.weights.hub.LoopbackHub;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fixture pipeline served by a hub on loopback, loaded by its repo id as a user would: downloaded into
 * an empty cache, then the same picture as from the folder itself; then again offline from the cache.
 */
class HubPipelineTest {
    private static final String REPO = "tiny/stable-diffusion";
    private static final String COMMIT = "fedcba9876543210fedcba9876543210fedcba98";

    @TempDir
    Path cache;

    @Test
    void aRepoIdIsDownloadedOnceAndThenRunsOffline() throws Exception {
        Path folder = Fixtures.folder("pipeline");
        float[] expected = SmallPicture.fromFolder(folder);
        try (LoopbackHub hub = new LoopbackHub()) {
            hub.addRepo(REPO, COMMIT, folder);
            HubSettings settings = new HubSettings(hub.endpoint(), Optional.empty(), false, new HubCache(cache));
            AtomicLong reported = new AtomicLong();
            try (StableDiffusion sd = StableDiffusion.load(REPO).hub(settings)
                    .downloadProgress((file, done, total) -> reported.set(done)).open()) {
                assertEquals(REPO, sd.name());
                assertArrayEquals(expected, SmallPicture.of(sd));
            }
            assertTrue(reported.get() > 1_000_000, "the weights came through the download: " + reported.get() + " bytes");
            assertTrue(hub.requests().stream().noneMatch(r -> r.contains("golden") || r.contains("single_file")),
                    "only what inference needs is fetched: " + hub.requests());

            int requests = hub.requests().size();
            try (StableDiffusion sd = StableDiffusion.load(REPO + "@main").hub(settings.withOffline(true)).open()) {
                assertArrayEquals(expected, SmallPicture.of(sd));
            }
            assertEquals(requests, hub.requests().size(), "offline: the cache only");
        }
    }
}
