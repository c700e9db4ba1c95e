package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An {@code [out, in]} weight for {@link GemmKernel}, packed on first use: the output columns cut into panels of
 * {@link GemmLayout#NR} and each panel stored k-major ({@code [in][NR]}), zero-padded past the last column, so
 * the micro-kernel streams one contiguous run per panel and never checks bounds. Weights stored in 16 bits
 * (F16, BF16) stay 16-bit in the panels; the product widens each block as it uses it. A weight may also be held
 * in another type than the file's: packing then rounds it to that type (F32 to F16 or BF16, to the nearest
 * even) or widens it, once.
 *
 * <p>Until its first product the weight is only the stored tensor (the file's own mapping, nothing read).
 * Packing reads it once and then lets the operating system drop its file pages, so a weight is never resident
 * twice. {@link #unload()} frees the panels; the next product packs them again from the file, which lets a
 * pipeline keep just the model it is running in memory.
 */
final class PackedMatrix implements ConvWeight {
    private static final ValueLayout.OfShort SHORTS = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOATS = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ThreadLocal<short[][]> STAGING = ThreadLocal.withInitial(() -> new short[2][0]);

    final int in;
    final int out;
    final int panels;
    /** The type the panels hold: F32, F16 or BF16. */
    final DType storage;
    /** For a convolution: input channels and kernel size (1, 1 and {@code in} for a plain matrix). */
    final int channels;
    final int kernelHeight;
    final int kernelWidth;
    /** The stored weight, {@code [out][channels][kh][kw]} little-endian: usually a slice of a mapped file. */
    private final MemorySegment stored;
    /** The type of {@link #stored}: F32, F16 or BF16; packing converts it where it is not {@link #storage}. */
    private final DType storedType;
    /** The tensor {@link #stored} is the data of, for releasing its file pages; null for a converted copy. */
    private final RawTensor storedTensor;
    /** Owns {@link #stored} when it had to be converted to F32 (F64 weights, big-endian hosts); else null. */
    private final Arena convertedArena;
    /** The backend's count of bytes held in packed panels, kept up to date by packing and unloading. */
    private final AtomicLong packedBytes;
    private Arena panelArena;
    private MemorySegment data;

    private PackedMatrix(MemorySegment stored, DType storedType, RawTensor storedTensor, DType storage,
            Arena convertedArena, AtomicLong packedBytes, int out, int channels, int kernelHeight, int kernelWidth) {
        this.stored = stored;
        this.storedType = storedType;
        this.storedTensor = storedTensor;
        this.packedBytes = packedBytes;
        this.storage = storage;
        this.convertedArena = convertedArena;
        this.out = out;
        this.channels = channels;
        this.kernelHeight = kernelHeight;
        this.kernelWidth = kernelWidth;
        this.in = channels * kernelHeight * kernelWidth;
        this.panels = (out + GemmLayout.NR - 1) / GemmLayout.NR;
    }

    /**
     * A weight of any float type, {@code [out, ...]} with the trailing dimensions flattened into {@code in}, held
     * as {@code heldAs} (null: as stored, F64 as F32).
     */
    static PackedMatrix of(RawTensor weight, DType heldAs, AtomicLong packedBytes) {
        if (weight.rank() < 2) {
            throw new IllegalArgumentException("weight '" + weight.name() + "' must have rank >= 2, has shape "
                    + Arrays.toString(weight.shape()));
        }
        requireFloat(weight);
        int out = Math.toIntExact(weight.dim(0));
        int in = Math.toIntExact(weight.elementCount() / Math.max(1, out));
        return over(weight, heldAs, packedBytes, out, in, 1, 1);
    }

    /**
     * A convolution weight {@code [out, in, kh, kw]}, its columns reordered while packing to {@code (ky, kx, c)},
     * the order in which {@link ConvPatches} lays out a channels-last patch.
     */
    static PackedMatrix ofConvolution(RawTensor weight, DType heldAs, AtomicLong packedBytes) {
        if (weight.rank() != 4 || !weight.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("convolution weight '" + weight.name() + "' must be a float [out, in, kh, kw]"
                    + " tensor, is " + weight.dtype() + Arrays.toString(weight.shape()));
        }
        return over(weight, heldAs, packedBytes, Math.toIntExact(weight.dim(0)), Math.toIntExact(weight.dim(1)),
                Math.toIntExact(weight.dim(2)), Math.toIntExact(weight.dim(3)));
    }

    /** A row-major {@code [out, in]} F32 matrix (for tests and benchmarks); the values are copied. */
    static PackedMatrix of(float[] values, int out, int in, AtomicLong packedBytes) {
        if (values.length != (long) out * in) {
            throw new IllegalArgumentException(values.length + " values do not fill a " + out + " x " + in + " matrix");
        }
        Arena arena = Arena.ofShared();
        MemorySegment copy = arena.allocate((long) values.length * Float.BYTES, 64);
        MemorySegment.copy(values, 0, copy, FLOATS, 0, values.length);
        return new PackedMatrix(copy, DType.F32, null, DType.F32, arena, packedBytes, out, in, 1, 1);
    }

    private static PackedMatrix over(RawTensor weight, DType heldAs, AtomicLong packedBytes, int out, int channels,
            int kernelHeight, int kernelWidth) {
        DType type = weight.dtype();
        boolean readInPlace = type == DType.F16 || type == DType.BF16
                || (type == DType.F32 && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN);
        DType storage = heldAs != null ? Backend.requireHeldType(heldAs) : readInPlace ? type : DType.F32;
        if (readInPlace) {
            return new PackedMatrix(weight.data(), type, weight, storage, null, packedBytes, out, channels, kernelHeight,
                    kernelWidth);
        }
        // F64 (or F32 on a big-endian host): an F32 little-endian copy stands in for the file's bytes
        Arena arena = Arena.ofShared();
        MemorySegment converted = arena.allocate(weight.elementCount() * Float.BYTES, 64);
        for (long i = 0; i < weight.elementCount(); i++) {
            converted.setAtIndex(FLOATS, i, weight.getFloat(i));
        }
        return new PackedMatrix(converted, DType.F32, null, storage, arena, packedBytes, out, channels, kernelHeight,
                kernelWidth);
    }

    private static void requireFloat(RawTensor weight) {
        if (!weight.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("weight '" + weight.name() + "' is " + weight.dtype() + ", not a float type");
        }
    }

    /** The packed panels, {@code [panels][in][NR]} of {@link #storage}; packed now if not packed since the last unload. */
    synchronized MemorySegment panels(Parallel parallel) {
        if (data == null) {
            if (!stored.scope().isAlive()) {
                throw new IllegalStateException("the weights file behind this " + out + " x " + in + " weight was closed");
            }
            Arena arena = Arena.ofShared();
            MemorySegment packed = arena.allocate((long) panels * in * GemmLayout.NR * storage.byteSize(), 64);
            if (parallel.helpersCanAccess(stored)) {
                parallel.forEach(panels, p -> packPanel(p, packed));
            } else {
                for (int p = 0; p < panels; p++) { // weights in memory confined to this thread
                    packPanel(p, packed);
                }
            }
            if (storedTensor != null) {
                storedTensor.releaseResidentPages(); // the panels are the copy in use; the pages return if packed again
            }
            panelArena = arena;
            data = packed;
            packedBytes.addAndGet(packed.byteSize());
        }
        return data;
    }

    /** The packed panels as the GEMM takes them; packed now if not packed since the last unload. */
    GemmKernel.Panels gemmPanels(Parallel parallel) {
        return new GemmKernel.Panels(panels(parallel), storage, in, out, panels);
    }

    /**
     * Packs panel {@code p}: its {@code NR} stored rows are staged on the heap, then transposed into
     * {@code [in][NR]} (through the {@code (c, ky, kx) -> (ky, kx, c)} reordering for a convolution) and written
     * out in one copy. Elements move as raw 16-bit words (one per F16/BF16 value, two per F32 value), converted
     * only while staged, and only when the weight is held in another type than it is stored in.
     */
    private void packPanel(int p, MemorySegment target) {
        int words = storage.byteSize() / 2;
        int rowWords = in * words;
        short[][] staging = staging(GemmLayout.NR * rowWords);
        short[] rows = staging[0];
        short[] panel = staging[1];
        for (int j = 0; j < GemmLayout.NR; j++) {
            int n = p * GemmLayout.NR + j;
            if (n < out) {
                stageRow(n, rows, j * rowWords);
            } else {
                Arrays.fill(rows, j * rowWords, (j + 1) * rowWords, (short) 0);
            }
        }
        int taps = kernelHeight * kernelWidth;
        int at = 0;
        for (int tap = 0; tap < taps; tap++) {
            for (int c = 0; c < channels; c++) {
                int from = (c * taps + tap) * words;
                if (words == 1) {
                    for (int j = 0; j < GemmLayout.NR; j++, from += rowWords) {
                        panel[at++] = rows[from];
                    }
                } else {
                    for (int j = 0; j < GemmLayout.NR; j++, from += rowWords) {
                        panel[at++] = rows[from];
                        panel[at++] = rows[from + 1];
                    }
                }
            }
        }
        MemorySegment.copy(panel, 0, target, SHORTS, (long) p * GemmLayout.NR * rowWords * 2, GemmLayout.NR * rowWords);
    }

    /** Stored row {@code n} into {@code rows} from word {@code at}, as words of {@link #storage}. */
    private void stageRow(int n, short[] rows, int at) {
        if (storedType == storage) {
            int rowWords = in * storage.byteSize() / 2;
            MemorySegment.copy(stored, SHORTS, (long) n * rowWords * 2, rows, at, rowWords);
            return;
        }
        long first = (long) n * in;
        switch (storage) {
            case F16 -> {
                for (int i = 0; i < in; i++) {
                    rows[at + i] = Float.floatToFloat16(storedValue(first + i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < in; i++) {
                    rows[at + i] = DType.bfloat16Bits(storedValue(first + i));
                }
            }
            default -> {
                for (int i = 0; i < in; i++) {
                    int bits = Float.floatToRawIntBits(storedValue(first + i));
                    rows[at + 2 * i] = (short) bits; // little-endian: the low half first
                    rows[at + 2 * i + 1] = (short) (bits >>> 16);
                }
            }
        }
    }

    /** Stored element {@code index}, as a float. */
    private float storedValue(long index) {
        return switch (storedType) {
            case F16 -> Float.float16ToFloat(stored.getAtIndex(SHORTS, index));
            case BF16 -> Float.intBitsToFloat(stored.getAtIndex(SHORTS, index) << 16);
            default -> stored.getAtIndex(FLOATS, index);
        };
    }

    /** This thread's two staging arrays, each of at least {@code length} words. */
    private static short[][] staging(int length) {
        short[][] staging = STAGING.get();
        if (staging[0].length < length) {
            staging[0] = new short[length];
            staging[1] = new short[length];
        }
        return staging;
    }

    @Override
    public synchronized void unload() {
        if (panelArena != null) {
            packedBytes.addAndGet(-data.byteSize());
            panelArena.close();
            panelArena = null;
            data = null;
        }
    }

    @Override
    public int inFeatures() {
        return in;
    }

    @Override
    public int outFeatures() {
        return out;
    }

    @Override
    public int inChannels() {
        return channels;
    }

    @Override
    public int kernelHeight() {
        return kernelHeight;
    }

    @Override
    public int kernelWidth() {
        return kernelWidth;
    }

    @Override
    public synchronized void close() {
        unload();
        if (convertedArena != null && convertedArena.scope().isAlive()) {
            convertedArena.close();
        }
    }
}
