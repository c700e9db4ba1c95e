package dev.jdiffusion.weights.safetensors;

import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.WeightsException;
import dev.jdiffusion.weights.json.Json;
import dev.jdiffusion.weights.json.JsonException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A checkpoint split over several safetensors files, tied together by a
 * {@code *.safetensors.index.json} whose {@code weight_map} names the shard of every tensor.
 */
public final class ShardedSafetensors implements TensorSource {
    private final Path index;
    private final Map<String, SafetensorsFile> shards;
    private final Map<String, RawTensor> tensors;
    private final Map<String, String> metadata;

    private ShardedSafetensors(Path index, Map<String, SafetensorsFile> shards, Map<String, RawTensor> tensors,
            Map<String, String> metadata) {
        this.index = index;
        this.shards = shards;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens the index and every shard it names, checking that each tensor is where the index says. */
    public static ShardedSafetensors open(Path index) {
        Map<String, Object> json;
        try {
            json = Json.parseObject(Files.readString(index));
        } catch (IOException e) {
            throw new WeightsException("cannot read " + index + ": " + e, e);
        } catch (JsonException e) {
            throw new WeightsException(index + ": not a valid safetensors index: " + e.getMessage(), e);
        }
        if (!(json.get("weight_map") instanceof Map<?, ?> weightMap)) {
            throw new WeightsException(index + ": not a valid safetensors index: no \"weight_map\" object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        if (json.get("metadata") instanceof Map<?, ?> meta) {
            meta.forEach((k, v) -> metadata.put(String.valueOf(k), String.valueOf(v)));
        }

        Path folder = index.toAbsolutePath().getParent();
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        Map<String, RawTensor> tensors = new LinkedHashMap<>();
        try {
            for (Map.Entry<?, ?> e : weightMap.entrySet()) {
                String name = (String) e.getKey();
                if (!(e.getValue() instanceof String shardName)) {
                    throw new WeightsException(index + ": the shard of '" + name + "' is not a file name");
                }
                Path shardPath = folder.resolve(shardName).normalize();
                if (!shardPath.startsWith(folder)) {
                    throw new WeightsException(index + ": shard '" + shardName + "' lies outside the index's folder");
                }
                SafetensorsFile shard = shards.get(shardName);
                if (shard == null) {
                    shard = SafetensorsFile.open(shardPath);
                    shards.put(shardName, shard);
                }
                SafetensorsFile owner = shard;
                tensors.put(name, shard.find(name).orElseThrow(() -> new WeightsException(index + ": tensor '" + name
                        + "' is mapped to " + owner.file() + " but that shard does not hold it")));
            }
        } catch (RuntimeException e) {
            shards.values().forEach(SafetensorsFile::close);
            throw e;
        }
        return new ShardedSafetensors(index, Collections.unmodifiableMap(shards), Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(metadata));
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public Optional<RawTensor> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /** The index's own {@code metadata} (for example {@code total_size}), as strings. */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public String description() {
        return index + " (" + shards.size() + " shards)";
    }

    @Override
    public void releaseResidentPages() {
        shards.values().forEach(SafetensorsFile::releaseResidentPages);
    }

    @Override
    public void close() {
        shards.values().forEach(SafetensorsFile::close);
    }
}
