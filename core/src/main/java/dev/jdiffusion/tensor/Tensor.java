package dev.jdiffusion.tensor;

import dev.jdiffusion.weights.DType;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A dense row-major tensor owned by a {@link Backend}: a shape, an element type and a block of memory
 * (host memory for the CPU backend, a device address for an accelerator).
 *
 * <p>Tensors made by ops own their memory and give it back to the backend on {@link #close()}; a
 * model closes each intermediate as soon as it is dead, so a forward pass does not grow with depth.
 * Views ({@link #reshape}) and weights borrow memory and never free it.
 */
public final class Tensor implements AutoCloseable {
    private final Backend backend;
    private final int[] shape;
    private final DType dtype;
    private final MemorySegment data;
    private final Runnable release;
    private boolean closed;

    /** For backends: wraps memory that holds {@code shape} elements of {@code dtype}. */
    public Tensor(Backend backend, int[] shape, DType dtype, MemorySegment data, Runnable release) {
        this.backend = backend;
        this.shape = shape.clone();
        this.dtype = dtype;
        this.data = data;
        this.release = release;
        long bytes = Shapes.elementCount(shape) * dtype.byteSize();
        if (data.byteSize() < bytes) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + dtype + " needs " + bytes
                    + " bytes, memory has " + data.byteSize());
        }
    }

    public Backend backend() {
        return backend;
    }

    public Device device() {
        return backend.device();
    }

    public DType dtype() {
        return dtype;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Dimension {@code axis}; negative counts from the end ({@code -1} is the last). */
    public int dim(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    public long elementCount() {
        return Shapes.elementCount(shape);
    }

    /** For backends: the memory, valid while this tensor (or its owner, for a view) is open. */
    public MemorySegment data() {
        checkOpen();
        return data;
    }

    /** The same elements under another shape of equal element count; borrows this tensor's memory. */
    public Tensor reshape(int... newShape) {
        int inferred = -1;
        long known = 1;
        int[] s = newShape.clone();
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (inferred >= 0) {
                    throw new IllegalArgumentException("only one dimension may be -1: " + Arrays.toString(newShape));
                }
                inferred = i;
            } else {
                known *= s[i];
            }
        }
        if (inferred >= 0) {
            s[inferred] = known == 0 ? 0 : Math.toIntExact(elementCount() / known);
        }
        if (Shapes.elementCount(s) != elementCount()) {
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return new Tensor(backend, s, dtype, data(), null);
    }

    /**
     * The same memory under another shape, taking over this tensor's ownership: the result frees it,
     * and this tensor must not be used any more.
     */
    public Tensor reshapeOwned(int... newShape) {
        Tensor view = reshape(newShape);
        Tensor owner = new Tensor(backend, view.shape, dtype, data, release);
        closed = true;
        return owner;
    }

    /** The elements as floats (copied to the host when the tensor lives elsewhere). */
    public float[] toFloatArray() {
        checkOpen();
        return backend.toFloatArray(this);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (release != null) {
                release.run();
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("tensor " + Arrays.toString(shape) + " used after close()");
        }
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + " on " + device();
    }
}
