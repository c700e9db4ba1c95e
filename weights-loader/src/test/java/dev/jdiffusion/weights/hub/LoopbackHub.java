package dev.jdiffusion.weights.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.jdiffusion.weights.json.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A Hugging Face hub on loopback, in the hub's URL and header layout: {@code /api/models/<repo>/revision/<rev>}
 * lists files (with {@code blobId}, {@code size} and {@code lfs.sha256}), {@code /<repo>/resolve/<rev>/<path>}
 * serves plain files itself and redirects LFS files ({@code *.safetensors}) to a second server, the content
 * server, on another port. Both honour {@code Range}. Repositories can be gated behind a token, and a file
 * can be set to have its connection dropped part way, once.
 */
public final class LoopbackHub implements AutoCloseable {
    private static final Pattern API = Pattern.compile("/api/models/([^/]+/[^/]+)/revision/([^/?]+)");
    private static final Pattern RESOLVE = Pattern.compile("/([^/]+/[^/]+)/resolve/([^/]+)/(.+)");
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

    private record Repo(String commit, Map<String, byte[]> files, Map<String, String> branches) {}

    private final HttpServer hub;
    private final ServerSocket content;
    private final ExecutorService executor = Executors.newFixedThreadPool(4);
    private final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
    private final Map<String, String> tokens = new ConcurrentHashMap<>();
    private final Map<String, Long> dropOnce = new ConcurrentHashMap<>();
    private final Map<String, String> wrongHash = new ConcurrentHashMap<>();
    private final List<String> requests = Collections.synchronizedList(new ArrayList<>());
    private volatile boolean tokenSentToContentServer;

    public LoopbackHub() throws IOException {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        hub = HttpServer.create(new InetSocketAddress(loopback, 0), 0);
        hub.createContext("/", this::serveHub);
        hub.setExecutor(executor);
        hub.start();
        content = new ServerSocket(0, 50, loopback);
        executor.execute(this::acceptContentRequests);
    }

    /** The address to give as the hub endpoint. */
    public URI endpoint() {
        return URI.create("http://" + hub.getAddress().getHostString() + ":" + hub.getAddress().getPort());
    }

    /** Serves a repository whose {@code main} branch is {@code commit}, with these files. */
    public void addRepo(String repo, String commit, Map<String, byte[]> files) {
        repos.put(repo, new Repo(commit, new TreeMap<>(files), new ConcurrentHashMap<>(Map.of("main", commit))));
        files.forEach((path, bytes) -> {
            if (isLfs(path)) {
                blobs.put(sha256(bytes), bytes);
            }
        });
    }

    /** Serves every file under {@code folder} as a repository. */
    public void addRepo(String repo, String commit, Path folder) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        try (Stream<Path> walk = Files.walk(folder)) {
            for (Path file : walk.filter(Files::isRegularFile).toList()) {
                files.put(folder.relativize(file).toString().replace('\\', '/'), Files.readAllBytes(file));
            }
        }
        addRepo(repo, commit, files);
    }

    /** Answers 401 for this repository unless the request carries this token. */
    public void gate(String repo, String token) {
        tokens.put(repo, token);
    }

    /** The next download of this LFS file closes the connection after {@code bytes} bytes of the body. */
    public void dropConnectionOnce(String repo, String path, long bytes) {
        dropOnce.put(sha256(repos.get(repo).files().get(path)), bytes);
    }

    /** Lists a wrong hash for this path, as a corrupted transfer would look. */
    public void listWrongHash(String path) {
        wrongHash.put(path, "0".repeat(64));
    }

    /** Every request so far, as {@code METHOD path [Range]}, on both servers. */
    public List<String> requests() {
        synchronized (requests) {
            return List.copyOf(requests);
        }
    }

    /** Whether a request to the content server ever carried an {@code Authorization} header. */
    public boolean tokenSentToContentServer() {
        return tokenSentToContentServer;
    }

    private static boolean isLfs(String path) {
        return path.endsWith(".safetensors") || path.endsWith(".bin") || path.endsWith(".ckpt");
    }

    private void serveHub(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getRawPath();
            log(exchange, path);
            Matcher api = API.matcher(path);
            Matcher resolve = RESOLVE.matcher(path);
            String repoId = api.matches() ? api.group(1) : resolve.matches() ? resolve.group(1) : null;
            Repo repo = repoId == null ? null : repos.get(repoId);
            if (repo == null || !authorized(repoId, exchange)) {
                exchange.getResponseHeaders().set("X-Error-Code", repo == null ? "RepoNotFound" : "GatedRepo");
                exchange.getResponseHeaders().set("X-Error-Message", repo == null ? "Repository not found"
                        : "Access to model " + repoId + " is restricted.");
                exchange.sendResponseHeaders(401, -1);
                return;
            }
            String revision = URLDecoder.decode((api.matches() ? api : resolve).group(2), StandardCharsets.UTF_8);
            String commit = repo.branches().getOrDefault(revision, revision.equals(repo.commit()) ? revision : null);
            if (commit == null) {
                exchange.getResponseHeaders().set("X-Error-Code", "RevisionNotFound");
                exchange.sendResponseHeaders(404, -1);
                return;
            }
            if (api.matches()) {
                send(exchange, 200, Json.write(modelInfo(repoId, repo)).getBytes(StandardCharsets.UTF_8));
                return;
            }
            String file = URLDecoder.decode(resolve.group(3), StandardCharsets.UTF_8);
            byte[] bytes = repo.files().get(file);
            if (bytes == null) {
                exchange.getResponseHeaders().set("X-Error-Code", "EntryNotFound");
                exchange.sendResponseHeaders(404, -1);
                return;
            }
            exchange.getResponseHeaders().set("X-Repo-Commit", commit);
            if (isLfs(file)) {
                String sha = sha256(bytes);
                exchange.getResponseHeaders().set("X-Linked-Etag", "\"" + sha + "\"");
                exchange.getResponseHeaders().set("X-Linked-Size", Long.toString(bytes.length));
                URI location = URI.create("http://" + content.getInetAddress().getHostAddress() + ":"
                        + content.getLocalPort() + "/blobs/" + sha);
                exchange.getResponseHeaders().set("Location", location.toString());
                exchange.sendResponseHeaders(302, -1);
                return;
            }
            exchange.getResponseHeaders().set("ETag", "\"" + gitBlobId(bytes) + "\"");
            send(exchange, 200, bytes);
        }
    }

    /**
     * The content server speaks just enough HTTP/1.1 by hand, one request per connection, so that it can
     * drop a connection part way through a body as a failing network would.
     */
    private void acceptContentRequests() {
        while (!content.isClosed()) {
            try {
                Socket socket = content.accept();
                executor.execute(() -> serveContent(socket));
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void serveContent(Socket socket) {
        try (socket) {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1));
            String[] requestLine = in.readLine().split(" ");
            Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
                int colon = line.indexOf(':');
                headers.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
            }
            String path = URI.create(requestLine[1]).getPath();
            String range = headers.get("Range");
            requests.add(requestLine[0] + " " + path + (range == null ? "" : " " + range));
            if (headers.containsKey("Authorization")) {
                tokenSentToContentServer = true;
            }
            OutputStream out = socket.getOutputStream();
            byte[] bytes = path.startsWith("/blobs/") ? blobs.get(path.substring("/blobs/".length())) : null;
            if (bytes == null) {
                out.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .getBytes(StandardCharsets.ISO_8859_1));
                return;
            }
            int from = rangeStart(range, bytes.length);
            StringBuilder head = new StringBuilder();
            if (from >= 0) {
                head.append("HTTP/1.1 206 Partial Content\r\nContent-Range: ").append(contentRange(from, bytes.length))
                        .append("\r\n");
            } else {
                from = 0;
                head.append("HTTP/1.1 200 OK\r\n");
            }
            head.append("Content-Length: ").append(bytes.length - from).append("\r\nConnection: close\r\n\r\n");
            out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            Long dropAfter = dropOnce.remove(sha256(bytes));
            int length = dropAfter == null ? bytes.length - from : (int) Math.min(dropAfter, bytes.length - from);
            out.write(bytes, from, length);
            out.flush();
        } catch (IOException | RuntimeException e) {
            // the client went away; nothing to answer
        }
    }

    /** Sends the body, or from the requested offset with 206. */
    private static void send(HttpExchange exchange, int status, byte[] bytes) throws IOException {
        int from = rangeStart(exchange.getRequestHeaders().getFirst("Range"), bytes.length);
        if (from >= 0) {
            exchange.getResponseHeaders().set("Content-Range", contentRange(from, bytes.length));
            status = 206;
        } else {
            from = 0;
        }
        exchange.sendResponseHeaders(status, bytes.length - from == 0 ? -1 : bytes.length - from);
        exchange.getResponseBody().write(bytes, from, bytes.length - from);
    }

    /** Where a {@code Range: bytes=N-} header asks the body to start (at most its length), or -1 without one. */
    private static int rangeStart(String header, int length) {
        Matcher m = header == null ? null : RANGE.matcher(header);
        return m != null && m.matches() ? (int) Math.min(Long.parseLong(m.group(1)), length) : -1;
    }

    private static String contentRange(int from, int length) {
        return "bytes " + from + "-" + (length - 1) + "/" + length;
    }

    private Map<String, Object> modelInfo(String repoId, Repo repo) {
        List<Object> siblings = new ArrayList<>();
        repo.files().forEach((path, bytes) -> {
            Map<String, Object> sibling = new LinkedHashMap<>();
            sibling.put("rfilename", path);
            sibling.put("blobId", gitBlobId(bytes));
            sibling.put("size", (long) bytes.length);
            if (isLfs(path)) {
                sibling.put("lfs", Map.of("sha256", wrongHash.getOrDefault(path, sha256(bytes)), "size", (long) bytes.length,
                        "pointerSize", 134L));
            }
            siblings.add(sibling);
        });
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("id", repoId);
        info.put("sha", repo.commit());
        info.put("siblings", siblings);
        return info;
    }

    private boolean authorized(String repo, HttpExchange exchange) {
        String token = tokens.get(repo);
        return token == null || ("Bearer " + token).equals(exchange.getRequestHeaders().getFirst("Authorization"));
    }

    private void log(HttpExchange exchange, String path) {
        String range = exchange.getRequestHeaders().getFirst("Range");
        requests.add(exchange.getRequestMethod() + " " + path + (range == null ? "" : " " + range));
    }

    static String sha256(byte[] bytes) {
        return digest("SHA-256", new byte[0], bytes);
    }

    static String gitBlobId(byte[] bytes) {
        return digest("SHA-1", ("blob " + bytes.length + "\0").getBytes(StandardCharsets.UTF_8), bytes);
    }

    private static String digest(String algorithm, byte[] prefix, byte[] bytes) {
        try {
            MessageDigest digest = MessageDigest.getInstance(algorithm);
            digest.update(prefix);
            return HexFormat.of().formatHex(digest.digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new UncheckedIOException(new IOException(e));
        }
    }

    @Override
    public void close() {
        hub.stop(0);
        try {
            content.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        executor.shutdownNow();
    }
}
