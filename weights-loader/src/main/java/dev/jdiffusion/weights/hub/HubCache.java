package dev.jdiffusion.weights.hub;

import dev.jdiffusion.weights.WeightsException;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * The local Hugging Face hub cache in its real layout, so that models diffusers already downloaded are
 * used as they are and what jdiffusion downloads is theirs too: {@code <cache>/models--<org>--<name>/}
 * holds {@code refs/<branch>} (a commit hash), {@code blobs/<etag>} (the file contents, named by their
 * SHA-256 or git blob hash) and {@code snapshots/<commit>/<path>} (links to the blobs). The cache is
 * {@code HF_HUB_CACHE}, else {@code HF_HOME/hub}, else {@code ~/.cache/huggingface/hub}.
 */
public final class HubCache {
    private final Path root;

    public HubCache(Path root) {
        this.root = root;
    }

    /** The cache the environment names, as huggingface_hub finds it. */
    public static HubCache fromEnvironment() {
        return fromEnvironment(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    static HubCache fromEnvironment(Map<String, String> env, Path home) {
        String hubCache = env.get("HF_HUB_CACHE");
        if (hubCache != null && !hubCache.isBlank()) {
            return new HubCache(Path.of(hubCache));
        }
        return new HubCache(HubSettings.hfHome(env, home).resolve("hub"));
    }

    public Path root() {
        return root;
    }

    /**
     * The snapshot folder of {@code org/name[@revision]} (revision: a branch or tag under {@code refs/}, or a
     * commit hash; {@code main} by default); a {@link WeightsException} naming what is missing otherwise.
     */
    public Path snapshot(String reference) {
        return snapshot(RepoReference.parse(reference));
    }

    /** The snapshot folder of a reference, which must be in the cache; a {@link WeightsException} otherwise. */
    public Path snapshot(RepoReference reference) {
        Path repoFolder = repoFolder(reference.repo());
        if (!Files.isDirectory(repoFolder)) {
            throw new WeightsException(reference.repo() + " is not in the Hugging Face cache (" + repoFolder
                    + " does not exist)");
        }
        String commit = reference.revision();
        Path ref = repoFolder.resolve("refs").resolve(reference.revision());
        if (Files.isRegularFile(ref)) {
            try {
                commit = Files.readString(ref).trim();
            } catch (IOException e) {
                throw new WeightsException("cannot read " + ref + ": " + e, e);
            }
        } else if (!reference.isCommit()) {
            throw new WeightsException(reference + " is not in the Hugging Face cache (no " + ref + ")");
        }
        Path snapshot = snapshotFolder(reference.repo(), commit);
        if (!Files.isDirectory(snapshot)) {
            throw new WeightsException(reference + ": the cache names commit " + commit + " but has no " + snapshot);
        }
        return snapshot;
    }

    /** {@code <cache>/models--<org>--<name>}. */
    public Path repoFolder(String repo) {
        return root.resolve("models--" + repo.replace("/", "--"));
    }

    /** Where the files of a commit appear under their repository paths. */
    public Path snapshotFolder(String repo, String commit) {
        return repoFolder(repo).resolve("snapshots").resolve(commit);
    }

    /** Where the contents with this etag (SHA-256 of an LFS file, git blob hash of a plain one) are kept. */
    public Path blob(String repo, String etag) {
        return repoFolder(repo).resolve("blobs").resolve(etag);
    }

    /** The lock file that keeps two processes from downloading the same blob at once. */
    public Path lockFile(String repo, String etag) {
        return root.resolve(".locks").resolve("models--" + repo.replace("/", "--")).resolve(etag + ".lock");
    }

    /** Records that {@code revision} (a branch or tag) now names {@code commit}. */
    public void writeRef(String repo, String revision, String commit) throws IOException {
        Path ref = repoFolder(repo).resolve("refs").resolve(revision);
        Files.createDirectories(ref.getParent());
        Path temporary = Files.createTempFile(ref.getParent(), ".ref", ".tmp");
        Files.writeString(temporary, commit);
        Files.move(temporary, ref, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Makes {@code snapshots/<commit>/<path>} a relative link to its blob, as huggingface_hub does; where the
     * file system has no symbolic links the blob is moved into the snapshot instead.
     */
    public Path link(String repo, String commit, String path, String etag) throws IOException {
        Path file = snapshotFolder(repo, commit).resolve(path);
        Files.createDirectories(file.getParent());
        Path blob = blob(repo, etag);
        Files.deleteIfExists(file);
        try {
            Files.createSymbolicLink(file, file.getParent().relativize(blob));
        } catch (UnsupportedOperationException | FileSystemException e) {
            Files.move(blob, file, StandardCopyOption.ATOMIC_MOVE);
        }
        return file;
    }
}
