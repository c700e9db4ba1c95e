package dev.jdiffusion.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * The CUDA C sources of the backend's own kernels, shipped as resources and compiled at run time by NVRTC for
 * the device's architecture; cuBLAS does the products. Each file and the
 * {@code extern "C"} kernels it must define, which is what the backend launches by name.
 */
final class KernelSources {
    /** Source file -> the kernels it defines. */
    static final Map<String, List<String>> KERNELS = Map.of(
            "elementwise.cu", List.of("add_f32", "scale_f32", "silu_f32", "gelu_f32", "quick_gelu_f32", "geglu_f32",
                    "add_per_item_f32", "f32_to_f16", "f32_to_bf16"),
            "layout.cu", List.of("upsample_nearest_f32", "concat_last_f32", "narrow_last_f32", "transpose_f32"),
            "norms.cu", List.of("layer_norm_f32", "group_norm_sums", "group_norm_squares", "group_norm_reduce",
                    "group_norm_finish", "group_norm_apply", "softmax_f32"),
            "attention.cu", List.of("score_softmax_f32", "score_softmax_f16", "score_softmax_bf16"),
            "flash_attention.cu", FlashAttention.KERNELS,
            "convolution.cu", List.of("patches_f32", "patches_f16", "patches_bf16"));

    /** The headers the sources include, handed to NVRTC by name (it has no include path). */
    static final List<String> HEADERS = List.of("stores.cuh", "rows.cuh");

    private KernelSources() {}

    /** The text of one source file. */
    static String source(String file) {
        if (!KERNELS.containsKey(file) && !HEADERS.contains(file)) {
            throw new IllegalArgumentException("no kernel source " + file + "; there are " + KERNELS.keySet());
        }
        try (InputStream in = KernelSources.class.getResourceAsStream("kernels/" + file)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + file + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read kernel source " + file, e);
        }
    }
}
