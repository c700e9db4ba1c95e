package dev.jdiffusion.weights.hub;

/**
 * One file of a repository revision as the hub lists it: its path, its size in bytes, and what names its
 * contents: the SHA-256 of a file kept in git LFS ({@code sha256} not null), else its git blob hash.
 */
public record HubFile(String path, long size, String sha256, String gitBlobId) {
    public HubFile {
        if (path.isEmpty() || path.startsWith("/") || path.contains("\\") || path.equals("..") || path.startsWith("../")
                || path.contains("/../") || path.endsWith("/..")) {
            throw new IllegalArgumentException("unsafe repository path '" + path + "'");
        }
        if (size < 0) {
            throw new IllegalArgumentException(path + ": negative size " + size);
        }
        if (sha256 == null && gitBlobId == null) {
            throw new IllegalArgumentException(path + ": the hub gave neither an LFS SHA-256 nor a git blob id");
        }
    }

    /** The name of its blob in the cache, as huggingface_hub names it. */
    public String etag() {
        return sha256 != null ? sha256 : gitBlobId;
    }

    /** The last segment of the path. */
    public String fileName() {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    /** The folder part of the path, empty at the top. */
    public String folder() {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? "" : path.substring(0, slash);
    }
}
