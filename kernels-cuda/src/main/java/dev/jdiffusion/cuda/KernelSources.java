package dev.jdiffusion.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * The CUDA C sources of the backend's own kernels, shipped as resources and compiled at run time by NVRTC for
 * the device's architecture; cuBLAS and cuDNN do the products and convolutions. Each file and the
 * {@code extern "C"} kernels it must define, which is what the backend launches by name.
 */
final class KernelSources {
    /** Source file -> the kernels it defines. */
    static final Map<String, List<String>> KERNELS = Map.of(
            "elementwise.cu", List.of("add_f32", "scale_f32", "silu_f32", "gelu_f32", "quick_gelu_f32", "geglu_f32",
                    "add_per_item_f32", "f32_to_f16", "f16_to_f32", "bf16_to_f32"),
            "layout.cu", List.of("upsample_nearest_f32", "concat_last_f32", "narrow_last_f32", "transpose_f32"),
            "norms.cu", List.of("layer_norm_f32", "group_norm_f32", "softmax_f32"),
            "attention.cu", List.of("attention_f32"));

    /** The largest head width {@code attention_f32} takes (SD 1.5's widest heads are 1280 / 8 = 160). */
    static final int MAX_ATTENTION_HEAD_DIM = 160;

    private KernelSources() {}

    /** The text of one source file. */
    static String source(String file) {
        if (!KERNELS.containsKey(file)) {
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
