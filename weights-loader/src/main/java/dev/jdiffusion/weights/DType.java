package dev.jdiffusion.weights;

import java.util.Optional;

/** Element types of stored tensors, named as safetensors names them. */
public enum DType {
    F64(8, true),
    F32(4, true),
    F16(2, true),
    BF16(2, true),
    I64(8, false),
    I32(4, false),
    I16(2, false),
    I8(1, false),
    U8(1, false),
    BOOL(1, false);

    private final int byteSize;
    private final boolean floatingPoint;

    DType(int byteSize, boolean floatingPoint) {
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    /** Bytes one element takes. */
    public int byteSize() {
        return byteSize;
    }

    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /**
     * {@code value} rounded to this type and read back as a float: to the nearest even for F16 and BF16 (as
     * torch's {@code .half()} and {@code .bfloat16()} round), unchanged for F32 and F64.
     *
     * @throws UnsupportedOperationException for an integer type
     */
    public float round(float value) {
        return switch (this) {
            case F64, F32 -> value;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(value));
            case BF16 -> Float.intBitsToFloat(bfloat16Bits(value) << 16);
            default -> throw new UnsupportedOperationException(this + " is not a floating-point type");
        };
    }

    /**
     * The bfloat16 nearest to {@code value}, ties to even, as torch rounds it: the upper 16 bits after adding half
     * a unit of the last place kept (less one where that place is even), so too large a value becomes infinity;
     * any NaN becomes the quiet NaN {@code 0x7FC0}.
     */
    public static short bfloat16Bits(float value) {
        if (Float.isNaN(value)) {
            return (short) 0x7FC0;
        }
        int bits = Float.floatToRawIntBits(value);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** The name in a safetensors header ({@code "F32"}, {@code "BF16"}, ...). */
    public String safetensorsName() {
        return name();
    }

    /** The type a safetensors header names, if it is one this library reads. */
    public static Optional<DType> fromSafetensorsName(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
