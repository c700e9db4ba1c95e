package dev.jdiffusion.weights.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdiffusion.weights.WeightsException;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HubDownloaderTest {
    private static final String REPO = "org/tiny-sd";
    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    private static final RepoReference MAIN = RepoReference.parse(REPO);

    @TempDir
    Path cacheRoot;

    private LoopbackHub hub;
    private Map<String, byte[]> files;

    @BeforeEach
    void serve() throws IOException {
        hub = new LoopbackHub();
        files = new LinkedHashMap<>();
        files.put("model_index.json", text("{\"_class_name\": \"StableDiffusionPipeline\"}"));
        files.put("scheduler/scheduler_config.json", text("{\"_class_name\": \"PNDMScheduler\"}"));
        files.put("tokenizer/vocab.json", text("{}"));
        files.put("tokenizer/merges.txt", text("#version: 0.2\n"));
        files.put("text_encoder/config.json", text("{}"));
        files.put("text_encoder/model.safetensors", random(3000, 1));
        files.put("text_encoder/pytorch_model.bin", random(100, 2));
        files.put("unet/config.json", text("{}"));
        files.put("unet/diffusion_pytorch_model.safetensors", random(200_000, 3));
        files.put("unet/diffusion_pytorch_model.fp16.safetensors", random(100_000, 4));
        files.put("unet/diffusion_pytorch_model.non_ema.safetensors", random(1000, 5));
        files.put("unet/diffusion_flax_model.msgpack", random(100, 6));
        files.put("vae/config.json", text("{}"));
        files.put("vae/diffusion_pytorch_model.safetensors", random(5000, 7));
        files.put("safety_checker/model.safetensors", random(100, 8));
        files.put("v1-5-pruned.ckpt", random(100, 9));
        hub.addRepo(REPO, COMMIT, files);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    private HubSettings settings(String token, boolean offline) {
        return new HubSettings(hub.endpoint(), Optional.ofNullable(token), offline, new HubCache(cacheRoot));
    }

    private HubDownloader downloader(HubSettings settings) {
        return new HubDownloader(settings, 1);
    }

    @Test
    void downloadsWhatInferenceNeedsIntoTheCacheLayoutOfHuggingfaceHub() throws IOException {
        List<long[]> progress = new ArrayList<>();
        Path snapshot = downloader(settings(null, false)).pipeline(MAIN, null,
                (file, done, total) -> progress.add(new long[] {done, total}));

        Path repoFolder = cacheRoot.resolve("models--org--tiny-sd");
        assertEquals(repoFolder.resolve("snapshots").resolve(COMMIT), snapshot);
        assertEquals(COMMIT, Files.readString(repoFolder.resolve("refs/main")));
        List<String> expected = List.of("model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json",
                "tokenizer/merges.txt", "text_encoder/config.json", "text_encoder/model.safetensors", "unet/config.json",
                "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors");
        for (String path : files.keySet()) {
            Path file = snapshot.resolve(path);
            assertEquals(expected.contains(path), Files.exists(file), path);
            if (expected.contains(path)) {
                assertArrayEquals(files.get(path), Files.readAllBytes(file), path);
                assertTrue(Files.isSymbolicLink(file), path + " links to its blob");
                String etag = path.endsWith(".safetensors") ? LoopbackHub.sha256(files.get(path))
                        : LoopbackHub.gitBlobId(files.get(path));
                assertEquals(repoFolder.resolve("blobs").resolve(etag), file.toRealPath());
                assertFalse(Files.readSymbolicLink(file).isAbsolute(), "links are relative, as huggingface_hub makes them");
            }
        }
        long total = expected.stream().mapToLong(p -> files.get(p).length).sum();
        assertEquals(total, progress.getLast()[0]);
        assertEquals(total, progress.getLast()[1]);
        assertTrue(hub.requests().stream().noneMatch(r -> r.contains("safety_checker") || r.endsWith(".bin")
                || r.endsWith(".ckpt") || r.contains("fp16")), hub.requests().toString());
    }

    @Test
    void aSecondLoadOnlyAsksWhichCommitMainIs() {
        downloader(settings(null, false)).pipeline(MAIN, null, DownloadProgress.NONE);
        int before = hub.requests().size();
        downloader(settings(null, false)).pipeline(MAIN, null, DownloadProgress.NONE);
        assertEquals(List.of("GET /api/models/" + REPO + "/revision/main"), hub.requests().subList(before, hub.requests().size()));
    }

    @Test
    void prefersTheRequestedVariantAndFallsBackToThePlainWeights() throws IOException {
        Path snapshot = downloader(settings(null, false)).pipeline(MAIN, "fp16", DownloadProgress.NONE);
        assertTrue(Files.exists(snapshot.resolve("unet/diffusion_pytorch_model.fp16.safetensors")));
        assertFalse(Files.exists(snapshot.resolve("unet/diffusion_pytorch_model.safetensors")));
        assertArrayEquals(files.get("vae/diffusion_pytorch_model.safetensors"),
                Files.readAllBytes(snapshot.resolve("vae/diffusion_pytorch_model.safetensors")), "no fp16 VAE: the plain one");
    }

    @Test
    void followsTheRedirectToTheContentServerWithoutTheToken() {
        hub.gate(REPO, "hf_secret");
        downloader(settings("hf_secret", false)).pipeline(MAIN, null, DownloadProgress.NONE);
        assertTrue(hub.requests().stream().anyMatch(r -> r.startsWith("GET /blobs/")), "LFS files come by redirect");
        assertFalse(hub.tokenSentToContentServer(), "the token goes to the hub only");
    }

    @Test
    void aGatedRepositoryWithoutATokenSaysHowToGetAccess() {
        hub.gate(REPO, "hf_secret");
        HubException refused = assertThrows(HubException.class,
                () -> downloader(settings(null, false)).pipeline(MAIN, null, DownloadProgress.NONE));
        assertEquals(401, refused.status());
        assertTrue(refused.getMessage().contains("HF_TOKEN"), refused.getMessage());
        assertTrue(refused.getMessage().contains("restricted"), "the hub's own message is passed on: " + refused.getMessage());
        HubException wrongToken = assertThrows(HubException.class,
                () -> downloader(settings("hf_other", false)).pipeline(MAIN, null, DownloadProgress.NONE));
        assertTrue(wrongToken.getMessage().contains("was sent"), wrongToken.getMessage());
    }

    @Test
    void resumesAfterTheConnectionDropsMidFile() throws IOException {
        hub.dropConnectionOnce(REPO, "unet/diffusion_pytorch_model.safetensors", 70_000);
        Path snapshot = downloader(settings(null, false)).pipeline(MAIN, null, DownloadProgress.NONE);
        assertArrayEquals(files.get("unet/diffusion_pytorch_model.safetensors"),
                Files.readAllBytes(snapshot.resolve("unet/diffusion_pytorch_model.safetensors")));
        String unetBlob = "GET /blobs/" + LoopbackHub.sha256(files.get("unet/diffusion_pytorch_model.safetensors"));
        List<String> unetRequests = hub.requests().stream().filter(r -> r.startsWith(unetBlob)).toList();
        assertEquals(2, unetRequests.size(), unetRequests.toString());
        assertTrue(unetRequests.get(1).matches(".* bytes=\\d+-") && !unetRequests.get(1).endsWith(" bytes=0-"),
                "the second request asks for the rest only: " + unetRequests);
    }

    @Test
    void resumesAPartialFileLeftByAnEarlierRun() throws IOException {
        byte[] unet = files.get("unet/diffusion_pytorch_model.safetensors");
        String sha = LoopbackHub.sha256(unet);
        Path partial = cacheRoot.resolve("models--org--tiny-sd/blobs/" + sha + ".incomplete");
        Files.createDirectories(partial.getParent());
        Files.write(partial, java.util.Arrays.copyOf(unet, 12_345));
        Path snapshot = downloader(settings(null, false)).pipeline(MAIN, null, DownloadProgress.NONE);
        assertArrayEquals(unet, Files.readAllBytes(snapshot.resolve("unet/diffusion_pytorch_model.safetensors")));
        assertTrue(hub.requests().contains("GET /blobs/" + sha + " bytes=12345-"), hub.requests().toString());
        assertFalse(Files.exists(partial));
    }

    @Test
    void aFileThatDoesNotMatchItsHashIsDeletedAndNotLinked() {
        hub.listWrongHash("vae/diffusion_pytorch_model.safetensors");
        WeightsException corrupt = assertThrows(WeightsException.class,
                () -> downloader(settings(null, false)).pipeline(MAIN, null, DownloadProgress.NONE));
        assertTrue(corrupt.getMessage().contains("vae/diffusion_pytorch_model.safetensors is corrupt"), corrupt.getMessage());
        Path snapshot = cacheRoot.resolve("models--org--tiny-sd/snapshots").resolve(COMMIT);
        assertFalse(Files.exists(snapshot.resolve("vae/diffusion_pytorch_model.safetensors")));
        assertFalse(Files.exists(cacheRoot.resolve("models--org--tiny-sd/blobs/" + "0".repeat(64) + ".incomplete")));
    }

    @Test
    void offlineUsesTheCacheAndNamesWhatIsMissing() {
        WeightsException missing = assertThrows(WeightsException.class,
                () -> downloader(settings(null, true)).pipeline(MAIN, null, DownloadProgress.NONE));
        assertTrue(missing.getMessage().contains("HF_HUB_OFFLINE") && missing.getMessage().contains(REPO),
                missing.getMessage());
        assertTrue(hub.requests().isEmpty());

        Path downloaded = downloader(settings(null, false)).pipeline(MAIN, null, DownloadProgress.NONE);
        int before = hub.requests().size();
        assertEquals(downloaded, downloader(settings(null, true)).pipeline(MAIN, null, DownloadProgress.NONE));
        assertEquals(before, hub.requests().size(), "offline: no request at all");
    }

    @Test
    void anUnreachableHubFallsBackToTheCache() throws IOException {
        URI closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = URI.create("http://127.0.0.1:" + socket.getLocalPort());
        }
        HubSettings unreachable = new HubSettings(closed, Optional.empty(), false, new HubCache(cacheRoot));
        WeightsException nothing = assertThrows(WeightsException.class,
                () -> downloader(unreachable).pipeline(MAIN, null, DownloadProgress.NONE));
        assertTrue(nothing.getMessage().contains("cannot reach"), nothing.getMessage());

        Path downloaded = downloader(settings(null, false)).pipeline(MAIN, null, DownloadProgress.NONE);
        assertEquals(downloaded, downloader(unreachable).pipeline(MAIN, null, DownloadProgress.NONE));
    }

    @Test
    void aRepositoryWithPickledWeightsOnlyIsRefusedBeforeAnyDownload() {
        Map<String, byte[]> pickled = new LinkedHashMap<>(files);
        pickled.remove("text_encoder/model.safetensors");
        hub.addRepo("org/pickled", COMMIT, pickled);
        WeightsException refused = assertThrows(WeightsException.class, () -> downloader(settings(null, false))
                .pipeline(RepoReference.parse("org/pickled"), null, DownloadProgress.NONE));
        assertTrue(refused.getMessage().contains("text_encoder/ has no safetensors weights")
                && refused.getMessage().contains("pytorch_model.bin"), refused.getMessage());
        assertTrue(hub.requests().stream().noneMatch(r -> r.contains("/resolve/")));
    }

    @Test
    void anUnknownRevisionOrRepositoryIsNamed() {
        HubException revision = assertThrows(HubException.class, () -> downloader(settings(null, false))
                .pipeline(RepoReference.parse(REPO + "@v9"), null, DownloadProgress.NONE));
        assertEquals(404, revision.status());
        assertTrue(revision.getMessage().contains(REPO + "@v9"), revision.getMessage());
        HubException repo = assertThrows(HubException.class, () -> downloader(settings(null, false))
                .pipeline(RepoReference.parse("org/absent"), null, DownloadProgress.NONE));
        assertTrue(repo.getMessage().contains("org/absent"), repo.getMessage());
    }

    private static byte[] text(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }
}
