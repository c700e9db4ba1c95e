package dev.jdiffusion.weights.hub;

import dev.jdiffusion.weights.WeightsException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Gets a Stable Diffusion pipeline from the hub into the local cache, in huggingface_hub's layout, and
 * returns its snapshot folder: files already there are used as they are; missing ones are fetched (only
 * what inference needs, see {@link PipelineFiles}), resumed when a partial {@code .incomplete} blob is
 * left from an earlier attempt or a dropped connection, and checked against the size and hash the hub
 * lists before they are linked into the snapshot. Offline ({@code HF_HUB_OFFLINE=1}) it only looks in
 * the cache; when the hub cannot be reached, a cached snapshot of the revision is used with a warning.
 */
public final class HubDownloader {
    private static final System.Logger LOG = System.getLogger(HubDownloader.class.getName());
    private static final int ATTEMPTS = 5;

    private final HubSettings settings;
    private final HubClient client;
    private final long retryPauseMillis;

    public HubDownloader(HubSettings settings) {
        this(settings, 1000);
    }

    HubDownloader(HubSettings settings, long retryPauseMillis) {
        this.settings = settings;
        this.client = new HubClient(settings);
        this.retryPauseMillis = retryPauseMillis;
    }

    /**
     * The snapshot folder of the pipeline, downloading what the cache lacks.
     *
     * @param variant the weights variant to prefer ({@code "fp16"}), or null for the plain weights
     */
    public Path pipeline(RepoReference reference, String variant, DownloadProgress progress) {
        HubCache cache = settings.cache();
        if (settings.offline()) {
            try {
                return cache.snapshot(reference);
            } catch (WeightsException e) {
                throw new WeightsException("offline mode (HF_HUB_OFFLINE is set), and " + e.getMessage(), e);
            }
        }
        HubClient.Revision revision;
        try {
            revision = client.revision(reference);
        } catch (ConnectException | UnknownHostException | NoRouteToHostException | SocketTimeoutException e) {
            return cachedAfterNetworkFailure(reference, e);
        } catch (IOException e) {
            throw new WeightsException("cannot list the files of " + reference + " on " + settings.endpoint() + ": " + e, e);
        }
        List<HubFile> needed = PipelineFiles.select(reference.repo(), revision.files(), variant);
        Path snapshot = cache.snapshotFolder(reference.repo(), revision.commit());
        List<HubFile> missing = needed.stream().filter(f -> !Files.exists(snapshot.resolve(f.path()))).toList();
        long total = missing.stream().mapToLong(HubFile::size).sum();
        AtomicLong done = new AtomicLong();
        if (!missing.isEmpty()) {
            LOG.log(System.Logger.Level.INFO, "downloading {0} files ({1} MB) of {2} into {3}", missing.size(),
                    String.format("%.1f", total / 1e6), reference, cache.root());
        }
        try {
            for (HubFile file : missing) {
                long before = done.get();
                fetch(reference.repo(), revision.commit(), file, written -> progress.update(file.path(),
                        done.addAndGet(written), total));
                done.set(before + file.size());
                cache.link(reference.repo(), revision.commit(), file.path(), file.etag());
            }
            if (!reference.isCommit()) {
                cache.writeRef(reference.repo(), reference.revision(), revision.commit());
            }
        } catch (IOException e) {
            throw new WeightsException("cannot write into the Hugging Face cache " + cache.root() + ": " + e, e);
        }
        return snapshot;
    }

    private Path cachedAfterNetworkFailure(RepoReference reference, Exception cause) {
        try {
            Path snapshot = settings.cache().snapshot(reference);
            LOG.log(System.Logger.Level.WARNING, "cannot reach {0} ({1}); using the cached {2}", settings.endpoint(),
                    cause.toString(), reference);
            return snapshot;
        } catch (WeightsException notCached) {
            throw new WeightsException("cannot reach " + settings.endpoint() + " (" + cause + ") to download "
                    + reference + ", and " + notCached.getMessage(), cause);
        }
    }

    /** Fetches one file into its blob (unless another process did), resuming and retrying as needed. */
    private void fetch(String repo, String commit, HubFile file, LongConsumer written)
            throws IOException {
        Path blob = settings.cache().blob(repo, file.etag());
        Path lockFile = settings.cache().lockFile(repo, file.etag());
        Files.createDirectories(lockFile.getParent());
        Files.createDirectories(blob.getParent());
        try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock lock = lockChannel.lock()) {
            if (Files.exists(blob)) {
                written.accept(file.size());
                return;
            }
            Path partial = blob.resolveSibling(blob.getFileName() + ".incomplete");
            if (Files.exists(partial)) {
                long kept = Files.size(partial);
                LOG.log(System.Logger.Level.INFO, "resuming {0} at {1} of {2} bytes", file.path(), kept, file.size());
                written.accept(Math.min(kept, file.size()));
            }
            for (int attempt = 1; ; attempt++) {
                try {
                    if (!Files.exists(partial) || Files.size(partial) < file.size()) {
                        client.download(repo, commit, file, partial, written);
                    }
                    break;
                } catch (IOException | HubException e) {
                    if (e instanceof HubException refused && !refused.transientFailure()) {
                        throw refused;
                    }
                    if (attempt == ATTEMPTS) {
                        throw new WeightsException("downloading " + repo + "/" + file.path() + " failed " + ATTEMPTS
                                + " times (last: " + e + "); the " + (Files.exists(partial) ? Files.size(partial) : 0)
                                + " bytes received are kept in "
                                + partial + " and the next attempt resumes from there", e);
                    }
                    LOG.log(System.Logger.Level.WARNING, "{0}: {1}; resuming (attempt {2} of {3})", file.path(),
                            e.toString(), attempt + 1, ATTEMPTS);
                    pause(attempt);
                }
            }
            verify(file, partial);
            Files.move(partial, blob, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    private void pause(int attempt) {
        try {
            Thread.sleep(retryPauseMillis * attempt);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WeightsException("interrupted while downloading", e);
        }
    }

    /** Checks the size and the hash the hub lists; a file that fails is deleted so that no attempt resumes it. */
    private static void verify(HubFile file, Path partial) throws IOException {
        long size = Files.size(partial);
        String problem = null;
        if (size != file.size()) {
            problem = size + " bytes arrived where the hub lists " + file.size();
        } else {
            String actual = file.sha256() != null ? digest(partial, "SHA-256", "") : digest(partial, "SHA-1",
                    "blob " + size + "\0");
            if (!actual.equals(file.etag())) {
                problem = (file.sha256() != null ? "SHA-256 " : "git blob hash ") + actual + " differs from the hub's "
                        + file.etag();
            }
        }
        if (problem != null) {
            Files.delete(partial);
            throw new WeightsException("downloaded " + file.path() + " is corrupt: " + problem + " (deleted; run again)");
        }
    }

    private static String digest(Path file, String algorithm, String prefix) throws IOException {
        try {
            MessageDigest digest = MessageDigest.getInstance(algorithm);
            digest.update(prefix.getBytes(StandardCharsets.UTF_8));
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buffer = new byte[1 << 20];
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    digest.update(buffer, 0, n);
                }
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(algorithm + " is part of every JDK", e);
        }
    }
}
