package dev.jdiffusion.weights.hub;

import dev.jdiffusion.weights.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hub's public HTTP interface, as far as downloading needs it: the file list of a revision
 * ({@code /api/models/<repo>/revision/<revision>?blobs=true}) and a file's contents
 * ({@code /<repo>/resolve/<commit>/<path>}, usually a redirect to a content server). The token goes to the
 * hub only, never to the server a redirect points at.
 */
public final class HubClient {
    private static final int MAX_REDIRECTS = 10;
    private static final Pattern CONTENT_RANGE_START = Pattern.compile("bytes (\\d+)-");

    private static final int CONNECT_TIMEOUT_MILLIS = 20_000;
    /** A connection that sends nothing for this long is given up, and the download resumed on a new one. */
    private static final int READ_TIMEOUT_MILLIS = 60_000;

    private final HubSettings settings;

    public HubClient(HubSettings settings) {
        this.settings = settings;
    }

    /** A revision resolved to its commit, with every file in it. */
    public record Revision(String commit, List<HubFile> files) {}

    /** The commit a revision names and its files. */
    public Revision revision(RepoReference reference) throws IOException {
        URI uri = URI.create(settings.endpoint() + "/api/models/" + reference.repo() + "/revision/"
                + encode(reference.revision()) + "?blobs=true");
        HttpURLConnection connection = open(uri, Map.of(), reference.toString());
        String body;
        try (InputStream in = connection.getInputStream()) {
            body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            Map<String, Object> info = Json.parseObject(body);
            String commit = (String) Objects.requireNonNull(info.get("sha"), "sha");
            List<HubFile> files = new ArrayList<>();
            for (Object entry : (List<?>) Objects.requireNonNull(info.get("siblings"), "siblings")) {
                Map<?, ?> sibling = (Map<?, ?>) entry;
                Map<?, ?> lfs = (Map<?, ?>) sibling.get("lfs");
                String sha256 = lfs == null ? null : (String) lfs.get("sha256");
                Number size = (Number) Objects.requireNonNull(lfs != null ? lfs.get("size") : sibling.get("size"), "size");
                files.add(new HubFile((String) sibling.get("rfilename"), size.longValue(), sha256,
                        (String) sibling.get("blobId")));
            }
            return new Revision(commit, List.copyOf(files));
        } catch (RuntimeException e) {
            throw new IOException(settings.endpoint() + " answered the file list of " + reference
                    + " with something that is not the hub's model info (" + e + ")", e);
        }
    }

    /**
     * Appends the rest of a file to {@code partial} (the bytes it already holds are asked for no more, when
     * the server honours ranges), calling {@code written} with each chunk's size. An {@link IOException}
     * (a dropped or stalled connection) leaves what arrived in {@code partial} for the next attempt.
     */
    public void download(String repo, String commit, HubFile file, Path partial, LongConsumer written) throws IOException {
        long have = Files.exists(partial) ? Files.size(partial) : 0;
        URI uri = URI.create(settings.endpoint() + "/" + repo + "/resolve/" + commit + "/" + encodePath(file.path()));
        Map<String, String> headers = have > 0 ? Map.of("Range", "bytes=" + have + "-") : Map.of();
        HttpURLConnection connection = open(uri, headers, repo + "/" + file.path());
        boolean append = false;
        if (connection.getResponseCode() == 206) {
            Matcher start = CONTENT_RANGE_START.matcher(Objects.requireNonNullElse(connection.getHeaderField("Content-Range"), ""));
            append = start.lookingAt() && Long.parseLong(start.group(1)) == have;
        }
        if (!append && have > 0) {
            written.accept(-have); // the server sends the whole file again
        }
        try (InputStream in = connection.getInputStream();
                OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                out.write(buffer, 0, n);
                written.accept(n);
            }
        }
    }

    /**
     * Opens a GET answered 200 or 206, following redirects by hand so that the token is sent to the hub
     * only; any other answer becomes a {@link HubException}.
     */
    private HttpURLConnection open(URI uri, Map<String, String> headers, String what) throws IOException {
        for (int redirects = 0; ; redirects++) {
            HttpURLConnection connection = (HttpURLConnection) uri.toURL().openConnection();
            connection.setInstanceFollowRedirects(false);
            connection.setConnectTimeout(CONNECT_TIMEOUT_MILLIS);
            connection.setReadTimeout(READ_TIMEOUT_MILLIS);
            connection.setRequestProperty("User-Agent", "jdiffusion");
            connection.setRequestProperty("Accept-Encoding", "identity");
            headers.forEach(connection::setRequestProperty);
            if (settings.token().isPresent() && sameOrigin(uri, settings.endpoint())) {
                connection.setRequestProperty("Authorization", "Bearer " + settings.token().get());
            }
            int status = connection.getResponseCode();
            if (status == 200 || status == 206) {
                return connection;
            }
            String location = connection.getHeaderField("Location");
            String message = connection.getHeaderField("X-Error-Message");
            InputStream error = connection.getErrorStream();
            if (error != null) {
                error.close();
            }
            if (status >= 300 && status < 400 && location != null && redirects < MAX_REDIRECTS) {
                uri = uri.resolve(location);
                continue;
            }
            throw refusal(status, what, message);
        }
    }

    private HubException refusal(int status, String what, String hubMessage) {
        String detail = hubMessage == null ? "" : " (" + hubMessage + ")";
        String tokenAdvice = settings.token().isPresent()
                ? "the token from HF_TOKEN (or the token file) was sent; check that it is valid and has access"
                : "set HF_TOKEN to a token with access (https://huggingface.co/settings/tokens)";
        return new HubException(status, switch (status) {
            case 401 -> settings.endpoint() + " refused " + what + " without valid credentials (401)" + detail
                    + ": the repository is gated, private or does not exist; " + tokenAdvice;
            case 403 -> settings.endpoint() + " refused access to " + what + " (403)" + detail
                    + ": accept the model's conditions on its page with the account of the token, or use another token";
            case 404 -> what + " was not found on " + settings.endpoint() + " (404)" + detail;
            default -> settings.endpoint() + " answered " + status + " for " + what + detail;
        });
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI uri) {
        return uri.getPort() >= 0 ? uri.getPort() : uri.getScheme().equalsIgnoreCase("https") ? 443 : 80;
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String encodePath(String path) {
        StringBuilder encoded = new StringBuilder();
        for (String segment : path.split("/")) {
            encoded.append(encoded.isEmpty() ? "" : "/").append(encode(segment));
        }
        return encoded.toString();
    }
}
