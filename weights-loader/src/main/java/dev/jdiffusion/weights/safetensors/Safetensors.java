package dev.jdiffusion.weights.safetensors;

import dev.jdiffusion.weights.TensorSource;
import java.nio.file.Path;

/** Opens safetensors weights, a single file or a sharded checkpoint by its index. */
public final class Safetensors {
    private Safetensors() {}

    /** A {@code *.safetensors.index.json} opens every shard it names; any other path opens as one file. */
    public static TensorSource open(Path path) {
        return path.getFileName().toString().endsWith(".index.json")
                ? ShardedSafetensors.open(path)
                : SafetensorsFile.open(path);
    }
}
