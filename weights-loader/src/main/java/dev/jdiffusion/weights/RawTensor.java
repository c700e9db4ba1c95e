package dev.jdiffusion.weights;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One stored tensor: its name, element type, shape, and little-endian bytes (usually a slice of a
 * memory-mapped file, valid until the source it came from is closed). Nothing is copied or converted
 * until a caller asks.
 */
public final class RawTensor {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final MemorySegment data;

    public RawTensor(String name, DType dtype, long[] shape, MemorySegment data) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data;
        long expected = elementCount(this.shape) * dtype.byteSize();
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "' of shape " + Arrays.toString(shape) + " " + dtype
                    + " needs " + expected + " bytes, got " + data.byteSize());
        }
    }

    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis];
    }

    /** The raw little-endian bytes. */
    public MemorySegment data() {
        return data;
    }

    public long elementCount() {
        return elementCount(shape);
    }

    /** The product of the dimensions (1 for a scalar). */
    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Element {@code i} (flat, row-major) as a float; integer types are converted, booleans give 0 or 1. */
    public float getFloat(long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32, i);
            case F16 -> Float.float16ToFloat(data.getAtIndex(I16, i));
            case BF16 -> Float.intBitsToFloat(data.getAtIndex(I16, i) << 16);
            case F64 -> (float) data.getAtIndex(F64, i);
            default -> (float) getLong(i);
        };
    }

    /** Element {@code i} as a long; only for integer and boolean types. */
    public long getLong(long i) {
        return switch (dtype) {
            case I64 -> data.getAtIndex(I64, i);
            case I32 -> data.getAtIndex(I32, i);
            case I16 -> data.getAtIndex(I16, i);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> Byte.toUnsignedLong(data.get(ValueLayout.JAVA_BYTE, i));
            default -> throw new IllegalStateException("tensor '" + name + "' is " + dtype + ", not an integer type");
        };
    }

    /** Element {@code i} as a double (exact for F64). */
    public double getDouble(long i) {
        return dtype == DType.F64 ? data.getAtIndex(F64, i) : getFloat(i);
    }

    /** All elements widened to float, row-major. */
    public float[] toFloatArray() {
        float[] out = new float[checkedArrayLength()];
        if (dtype == DType.F32) {
            MemorySegment.copy(data, F32, 0, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = getFloat(i);
            }
        }
        return out;
    }

    /**
     * Writes every element as a native-order float into {@code target} (at least {@code 4 * elementCount()}
     * bytes), row-major, without an intermediate array.
     */
    public void copyFloatsInto(MemorySegment target) {
        long count = elementCount();
        if (target.byteSize() < count * Float.BYTES) {
            throw new IllegalArgumentException("'" + name + "' needs " + count * Float.BYTES + " bytes, the target has "
                    + target.byteSize());
        }
        for (long i = 0; i < count; i++) {
            target.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, getFloat(i));
        }
    }

    /** All elements as doubles, row-major. */
    public double[] toDoubleArray() {
        double[] out = new double[checkedArrayLength()];
        for (int i = 0; i < out.length; i++) {
            out[i] = getDouble(i);
        }
        return out;
    }

    /** All elements of an integer tensor, row-major. */
    public long[] toLongArray() {
        long[] out = new long[checkedArrayLength()];
        for (int i = 0; i < out.length; i++) {
            out[i] = getLong(i);
        }
        return out;
    }

    private int checkedArrayLength() {
        long n = elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor '" + name + "' has " + n + " elements, too many for one Java array");
        }
        return (int) n;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }

    /**
     * Lets the operating system drop the pages of a memory-mapped tensor (read again from the file if
     * touched); nothing for a tensor in ordinary memory. For a tensor that has just been copied into the layout
     * a backend computes from, so that the weight is not resident twice.
     */
    public void releaseResidentPages() {
        if (data.isMapped() && data.scope().isAlive()) {
            data.unload();
        }
    }
}
