package dev.jdiffusion.nn;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.MissingTensorException;
import dev.jdiffusion.weights.RawTensor;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.WeightsException;
import java.util.Arrays;
import java.util.Collections;
import java.util.Queue;
import java.util.function.Function;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A view of a model's weights scoped by key prefix, so that a layer is built from the same path the
 * checkpoint names it by: {@code new Linear(w.at("to_q"), ...)} reads {@code <prefix>.to_q.weight}.
 * Every read is checked against the shape the model expects, and recorded, so that tensors a file holds
 * but no layer read can be reported once the model is built.
 */
public final class Weights {
    private final TensorSource source;
    private final Backend backend;
    private final String prefix;
    private final Set<String> used;
    private final Queue<LinearWeight> prepared;
    /** The type the matrix and convolution weights are held in on the backend; null: as stored. */
    private final DType heldAs;

    private Weights(TensorSource source, Backend backend, DType heldAs, String prefix, Set<String> used,
            Queue<LinearWeight> prepared) {
        this.source = source;
        this.backend = backend;
        this.heldAs = heldAs;
        this.prefix = prefix;
        this.used = used;
        this.prepared = prepared;
    }

    /** The root scope of {@code source}, making tensors on {@code backend}. */
    public static Weights of(TensorSource source, Backend backend) {
        return of(source, backend, null);
    }

    /**
     * The root scope of {@code source}, making tensors on {@code backend}, which holds the weights of the matrix
     * products and convolutions as {@code heldAs} (see {@link Backend#prepareLinear(RawTensor, DType)}; null: as
     * stored). Biases, norms and embeddings are small, and are held as F32 whatever this says, with their values
     * rounded the same way: the model computes what the same weights stored in {@code heldAs} would give.
     */
    public static Weights of(TensorSource source, Backend backend, DType heldAs) {
        if (heldAs != null) {
            Backend.requireHeldType(heldAs);
        }
        return new Weights(source, backend, heldAs, "", ConcurrentHashMap.newKeySet(), new ConcurrentLinkedQueue<>());
    }

    /** The scope {@code <prefix>.<name>} (dots in {@code name} allowed: {@code at("layers.3")}). */
    public Weights at(String name) {
        return new Weights(source, backend, heldAs, key(name), used, prepared);
    }

    /** The scope {@code <prefix>.<index>}. */
    public Weights at(int index) {
        return at(Integer.toString(index));
    }

    public Backend backend() {
        return backend;
    }

    /** This scope's prefix, for messages. */
    public String prefix() {
        return prefix;
    }

    public boolean contains(String name) {
        return source.contains(key(name));
    }

    /** The stored tensor {@code name}, checked to have exactly {@code expectedShape}. */
    public RawTensor raw(String name, long... expectedShape) {
        String key = key(name);
        RawTensor raw = source.find(key).orElseThrow(() -> new MissingTensorException(key, source.description()));
        if (!Arrays.equals(raw.shape(), expectedShape)) {
            throw new WeightsException("tensor '" + key + "' in " + source.description() + " has shape "
                    + Arrays.toString(raw.shape()) + " but the model's config expects " + Arrays.toString(expectedShape)
                    + ": the weights and config.json belong to different models");
        }
        if (!raw.dtype().isFloatingPoint()) {
            throw new WeightsException("tensor '" + key + "' in " + source.description() + " is " + raw.dtype()
                    + ", expected a floating-point type");
        }
        used.add(key);
        return raw;
    }

    /**
     * The tensor {@code name} on the backend (F32), checked to have {@code expectedShape}; its values rounded to
     * the type the weights are held as, where that is narrower.
     */
    public Tensor tensor(String name, int... expectedShape) {
        RawTensor raw = raw(name, Arrays.stream(expectedShape).asLongStream().toArray());
        if (heldAs == null || heldAs == DType.F32) {
            return backend.fromRaw(raw);
        }
        float[] values = raw.toFloatArray();
        for (int i = 0; i < values.length; i++) {
            values[i] = held(values[i]);
        }
        return backend.fromFloats(values, expectedShape);
    }

    /**
     * A value read from a stored tensor of this model as its weights are held: rounded to F16 or BF16 where they
     * are held so. For tensors read in place, row by row, rather than through {@link #tensor}.
     */
    public float held(float value) {
        return heldAs == null ? value : heldAs.round(value);
    }

    /**
     * The matrix {@code name} ({@code [out, in, ...]}) prepared for the backend's matrix products, and
     * remembered for {@link #unloadPrepared()}.
     */
    public LinearWeight linear(String name, int... expectedShape) {
        return prepared(name, expectedShape, raw -> backend.prepareLinear(raw, heldAs));
    }

    /** The convolution weight {@code name} ({@code [out, in, kh, kw]}) prepared for the backend, as {@link #linear}. */
    public ConvWeight conv(String name, int... expectedShape) {
        return prepared(name, expectedShape, raw -> backend.prepareConv(raw, heldAs));
    }

    private <W extends LinearWeight> W prepared(String name, int[] expectedShape, Function<RawTensor, W> prepare) {
        W weight = prepare.apply(raw(name, Arrays.stream(expectedShape).asLongStream().toArray()));
        prepared.add(weight);
        return weight;
    }

    /**
     * {@linkplain LinearWeight#unload() Unloads} every weight prepared through this scope's root: what the
     * backend made of them is freed until their next use. A model offers it as its own {@code unloadWeights()}.
     */
    public void unloadPrepared() {
        prepared.forEach(LinearWeight::unload);
    }

    /** Names in the source that no layer has read so far, sorted. */
    public SortedSet<String> unusedNames() {
        SortedSet<String> unused = new TreeSet<>(source.names());
        unused.removeAll(used);
        return Collections.unmodifiableSortedSet(unused);
    }

    private String key(String name) {
        return prefix.isEmpty() ? name : prefix + "." + name;
    }
}
