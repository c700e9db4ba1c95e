package dev.jdiffusion.weights.hub;

import dev.jdiffusion.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The local Hugging Face hub cache in its real layout, so that models diffusers already downloaded are
 * used as they are: {@code <cache>/models--<org>--<name>/refs/<branch>} names a commit and
 * {@code snapshots/<commit>/} holds the files. The cache is {@code HF_HUB_CACHE}, else
 * {@code HF_HOME/hub}, else {@code ~/.cache/huggingface/hub}.
 */
public final class HubCache {
    private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

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
        String hfHome = env.get("HF_HOME");
        if (hfHome != null && !hfHome.isBlank()) {
            return new HubCache(Path.of(hfHome).resolve("hub"));
        }
        return new HubCache(home.resolve(".cache").resolve("huggingface").resolve("hub"));
    }

    public Path root() {
        return root;
    }

    /** Whether {@code reference} has the form of a repo id, {@code org/name} with an optional {@code @revision}. */
    public static boolean looksLikeRepoId(String reference) {
        int at = reference.indexOf('@');
        return REPO_ID.matcher(at < 0 ? reference : reference.substring(0, at)).matches();
    }

    /**
     * The snapshot folder of {@code org/name[@revision]} (revision: a branch or tag under {@code refs/}, or a
     * commit hash; {@code main} by default); a {@link WeightsException} naming what is missing otherwise.
     */
    public Path snapshot(String reference) {
        int at = reference.indexOf('@');
        String repo = at < 0 ? reference : reference.substring(0, at);
        String revision = at < 0 ? "main" : reference.substring(at + 1);
        if (!REPO_ID.matcher(repo).matches() || revision.isBlank() || revision.contains("..")) {
            throw new IllegalArgumentException("'" + reference + "' is not a repo id (org/name, optionally @revision)");
        }
        Path repoFolder = root.resolve("models--" + repo.replace("/", "--"));
        if (!Files.isDirectory(repoFolder)) {
            throw new WeightsException(repo + " is not in the Hugging Face cache (" + repoFolder + " does not exist)");
        }
        String commit = revision;
        Path ref = repoFolder.resolve("refs").resolve(revision);
        if (Files.isRegularFile(ref)) {
            try {
                commit = Files.readString(ref).trim();
            } catch (IOException e) {
                throw new WeightsException("cannot read " + ref + ": " + e, e);
            }
        } else if (!COMMIT.matcher(revision).matches()) {
            throw new WeightsException(repo + "@" + revision + " is not in the Hugging Face cache (no " + ref + ")");
        }
        Path snapshot = repoFolder.resolve("snapshots").resolve(commit);
        if (!Files.isDirectory(snapshot)) {
            throw new WeightsException(repo + "@" + revision + ": the cache names commit " + commit + " but has no "
                    + snapshot);
        }
        return snapshot;
    }
}
