package dev.jdiffusion.cuda;

import dev.jdiffusion.weights.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * The fused attention of {@code flash_attention.cu}: scores, online softmax and the weighted sum of the values in
 * one kernel on the tensor cores, for the 16-bit types. Each head is padded with zeros to the next width there is a
 * kernel for, so heads of up to 160 (Stable Diffusion's 40, 64, 80 and 160) run fused; wider ones, and the F32 mode,
 * take the unfused path.
 */
final class FlashAttention {
    /** The padded head widths compiled, each a multiple of the products' depth of 16. */
    private static final int[] PADDED_WIDTHS = {32, 48, 64, 80, 96, 128, 160};
    private static final int QUERY_ROWS = 64;
    private static final int KEY_TILE = 64;
    private static final int THREADS = 128;
    private static final float LOG2_E = 1.4426950408889634f;

    /** The kernels {@code flash_attention.cu} defines. */
    static final List<String> KERNELS = kernelNames();

    private FlashAttention() {}

    private static List<String> kernelNames() {
        List<String> names = new ArrayList<>(List.of("flash_operand_f16", "flash_operand_bf16"));
        for (DType type : new DType[] {DType.F16, DType.BF16}) {
            for (int width : PADDED_WIDTHS) {
                names.add(kernel(type, width));
            }
        }
        return List.copyOf(names);
    }

    private static String suffix(DType type) {
        return type == DType.F16 ? "f16" : "bf16";
    }

    private static String kernel(DType type, int paddedWidth) {
        return "flash_attention_" + suffix(type) + "_d" + paddedWidth;
    }

    /** Whether a fused kernel computes attention in {@code type} over heads of {@code headDim}. */
    static boolean serves(DType type, int headDim) {
        return (type == DType.F16 || type == DType.BF16) && headDim <= PADDED_WIDTHS[PADDED_WIDTHS.length - 1];
    }

    /**
     * Queues {@code out = softmax(scale q k^T [+ causal mask]) v} per head, for F32 tensors [batch, tokens, heads *
     * headDim] at the given device addresses, the operands rounded to {@code type}: keys and values are packed first
     * into head-major tiles of that type (a block of device memory each, freed once queued: the stream runs the
     * kernel before any later use of the blocks).
     */
    static void launch(KernelLibrary kernels, DeviceMemory memory, DType type, long q, long k, long v, long out, int batch,
            int queries, int keys, int heads, int headDim, float scale, boolean causal) {
        if (!serves(type, headDim)) {
            throw new IllegalArgumentException("no fused attention for heads of " + headDim + " in " + type);
        }
        int padded = 0;
        for (int width : PADDED_WIDTHS) {
            if (width >= headDim) {
                padded = width;
                break;
            }
        }
        int paddedKeys = Math.ceilDiv(keys, KEY_TILE) * KEY_TILE;
        long rows = (long) batch * heads * paddedKeys;
        long bytes = rows * padded * type.byteSize();
        long packedKeys = memory.allocate(bytes);
        long packedValues = memory.allocate(bytes);
        String pack = "flash_operand_" + suffix(type);
        kernels.launchRows(pack, rows, padded / 8, k, packedKeys, keys, paddedKeys, heads, headDim, padded, rows);
        kernels.launchRows(pack, rows, padded / 8, v, packedValues, keys, paddedKeys, heads, headDim, padded, rows);
        kernels.launch(kernel(type, padded), Math.ceilDiv(queries, QUERY_ROWS), heads, batch, THREADS, 1, q, packedKeys,
                packedValues, out, queries, keys, headDim, heads * headDim, scale * LOG2_E, causal ? 1 : 0);
        memory.free(packedKeys, bytes);
        memory.free(packedValues, bytes);
    }
}
