package dev.jdiffusion.pipeline;

import dev.jdiffusion.image.Image;
import dev.jdiffusion.image.Png;
import java.nio.file.Path;
import java.util.Map;

/** A generated picture with the parameters that made it. */
public record Result(Image image, GenerationParameters parameters) {

    /** The seed used (given, or drawn when none was). */
    public long seed() {
        return parameters.seed();
    }

    /** Writes a PNG carrying the parameters in a {@code parameters} text chunk, as A1111 does. */
    public void save(Path file) {
        Png.write(image, file, Map.of("parameters", parameters.toA1111Text()));
    }
}
