package dev.jdiffusion.weights.hub;

import java.util.regex.Pattern;

/**
 * A Hugging Face model repository and a revision in it: {@code org/name} with an optional {@code @revision}
 * (a branch, a tag or a commit hash; {@code main} when absent).
 */
public record RepoReference(String repo, String revision) {
    private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    public RepoReference {
        if (!REPO_ID.matcher(repo).matches() || repo.contains("..")) {
            throw new IllegalArgumentException("'" + repo + "' is not a repo id (org/name)");
        }
        if (revision.isBlank() || revision.contains("..") || revision.startsWith("/")) {
            throw new IllegalArgumentException("'" + revision + "' is not a revision of " + repo);
        }
    }

    /** Parses {@code org/name[@revision]}. */
    public static RepoReference parse(String reference) {
        int at = reference.indexOf('@');
        return at < 0 ? new RepoReference(reference, "main")
                : new RepoReference(reference.substring(0, at), reference.substring(at + 1));
    }

    /** Whether {@code reference} has the form of a repo id, {@code org/name} with an optional {@code @revision}. */
    public static boolean looksLikeRepoId(String reference) {
        int at = reference.indexOf('@');
        return REPO_ID.matcher(at < 0 ? reference : reference.substring(0, at)).matches();
    }

    /** Whether the revision is a full commit hash (which no branch can move). */
    public boolean isCommit() {
        return COMMIT.matcher(revision).matches();
    }

    @Override
    public String toString() {
        return repo + "@" + revision;
    }
}
