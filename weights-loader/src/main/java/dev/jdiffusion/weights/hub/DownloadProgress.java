package dev.jdiffusion.weights.hub;

/** Told how a model download advances, in bytes over all the files it fetches. */
@FunctionalInterface
public interface DownloadProgress {
    /** Reports nothing. */
    DownloadProgress NONE = (file, bytesDone, bytesTotal) -> {};

    /**
     * Called as bytes arrive ({@code bytesDone} of {@code bytesTotal} for the whole download, {@code file} the
     * repository path being fetched), from the downloading thread.
     */
    void update(String file, long bytesDone, long bytesTotal);
}
