package dev.jdiffusion.image;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/** PNG files in and out (through the JDK's ImageIO), with text chunks for the generation parameters. */
public final class Png {
    private Png() {}

    /** Reads a PNG (or any format ImageIO knows) as RGB, as {@link Image#fromBufferedImage} takes it. */
    public static Image read(Path file) {
        requireFile(file);
        BufferedImage picture;
        try {
            picture = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read image " + file, e);
        }
        if (picture == null) {
            throw new IllegalArgumentException(file + " is not an image this library can read (PNG, JPEG, BMP, GIF)");
        }
        if (picture.getWidth() < 1 || picture.getHeight() < 1) {
            throw new IllegalArgumentException(file + " is an empty image");
        }
        return Image.fromBufferedImage(picture);
    }

    /** The {@code tEXt} (and {@code iTXt}) chunks of a PNG, keyword to text. */
    public static Map<String, String> readText(Path file) {
        requireFile(file);
        try (var in = ImageIO.createImageInputStream(file.toFile())) {
            var readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) {
                throw new IllegalArgumentException(file + " is not an image this library can read");
            }
            var reader = readers.next();
            try {
                reader.setInput(in);
                IIOMetadata metadata = reader.getImageMetadata(0);
                Map<String, String> text = new java.util.LinkedHashMap<>();
                if (metadata != null && java.util.Arrays.asList(metadata.getMetadataFormatNames()).contains("javax_imageio_png_1.0")) {
                    org.w3c.dom.Node root = metadata.getAsTree("javax_imageio_png_1.0");
                    for (org.w3c.dom.Node chunk = root.getFirstChild(); chunk != null; chunk = chunk.getNextSibling()) {
                        boolean itxt = chunk.getNodeName().equals("iTXt");
                        if (!chunk.getNodeName().equals("tEXt") && !itxt) {
                            continue;
                        }
                        for (org.w3c.dom.Node e = chunk.getFirstChild(); e != null; e = e.getNextSibling()) {
                            var attributes = e.getAttributes();
                            text.put(attributes.getNamedItem("keyword").getNodeValue(),
                                    attributes.getNamedItem(itxt ? "text" : "value").getNodeValue());
                        }
                    }
                }
                return text;
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** ImageIO reports a missing or unreadable file as one it cannot decode: say which it is first. */
    private static void requireFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(Files.exists(file) ? file + " is not a file" : file + " does not exist");
        }
        if (!Files.isReadable(file)) {
            throw new IllegalArgumentException(file + " cannot be read: permission denied");
        }
    }

    /** Why a file operation failed, in words: NIO's exceptions carry the reason in their type. */
    private static String reason(IOException e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof NoSuchFileException) {
            return "no such file or folder";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /** Writes an 8-bit RGB PNG with the given {@code tEXt} chunks (keyword to text). */
    public static void write(Image image, Path file, Map<String, String> text) {
        BufferedImage picture = image.toBufferedImage();
        ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        try {
            IIOMetadata metadata = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(picture), null);
            if (!text.isEmpty()) {
                IIOMetadataNode chunk = new IIOMetadataNode("tEXt");
                text.forEach((keyword, value) -> {
                    IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
                    entry.setAttribute("keyword", keyword);
                    entry.setAttribute("value", value);
                    chunk.appendChild(entry);
                });
                IIOMetadataNode root = new IIOMetadataNode("javax_imageio_png_1.0");
                root.appendChild(chunk);
                metadata.mergeTree("javax_imageio_png_1.0", root);
            }
            if (file.toAbsolutePath().getParent() != null) {
                Files.createDirectories(file.toAbsolutePath().getParent());
            }
            // Opened by NIO, not by ImageIO's file stream, which prints a failure to open and goes on with none.
            try (OutputStream stream = Files.newOutputStream(file);
                    ImageOutputStream out = new MemoryCacheImageOutputStream(stream)) {
                writer.setOutput(out);
                writer.write(null, new IIOImage(picture, null, metadata), null);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + reason(e), e);
        } finally {
            writer.dispose();
        }
    }
}
