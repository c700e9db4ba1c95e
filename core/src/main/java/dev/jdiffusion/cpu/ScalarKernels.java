package dev.jdiffusion.cpu;

import dev.jdiffusion.tensor.Activation;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The kernels in plain Java loops, for a JVM without the Vector API module: the same layouts, the same
 * blocking of the product (so C2 can still auto-vectorise the inner loops), sums in double where the
 * vector kernels sum in wider precision too. Results agree with {@link VectorKernels} to float rounding.
 */
final class ScalarKernels implements CpuKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort H = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final long CHUNK = 1 << 14;
    private static final float SQRT1_2 = (float) (1 / Math.sqrt(2));
    private static final float QUICK_GELU_ALPHA = 1.702f;

    private final ThreadLocal<float[]> packedA = ThreadLocal.withInitial(() -> new float[GemmLayout.MC * GemmLayout.KC]);
    private final ThreadLocal<float[]> panel = ThreadLocal.withInitial(() -> new float[GemmLayout.KC * GemmLayout.NR]);
    private final ThreadLocal<float[]> tile = ThreadLocal.withInitial(() -> new float[GemmLayout.MR * GemmLayout.NR]);

    @Override
    public String name() {
        return "scalar";
    }

    // ------------------------------------------------------------------ product

    /** Always the patches' GEMM: the fallback stays the direct convolution, the reference the others match. */
    @Override
    public void convolve(Parallel parallel, CpuMemoryPool memory, ConvPatches input, int batch, PackedMatrix weight,
            MemorySegment bias, MemorySegment out) {
        gemm(parallel, input, batch * input.outHeight() * input.outWidth(), weight, bias, out);
    }

    @Override
    public void gemm(Parallel parallel, RowSource a, int m, PackedMatrix b, MemorySegment bias, MemorySegment c) {
        if (m == 0 || b.out == 0) {
            return;
        }
        MemorySegment panels = b.panels(parallel);
        // Whatever the vector kernel's order within a tile, each element of C sees the same operations in the
        // same order; this one always walks K block by block.
        GemmLayout.tiling(parallel.threads(), m, b.in, b.panels)
                .forEach(parallel, (m0, mc, p0, p1) -> tile(a, m0, mc, b, panels, p0, p1, bias, c));
    }

    private void tile(RowSource a, int m0, int mc, PackedMatrix b, MemorySegment panels, int p0, int p1,
            MemorySegment bias, MemorySegment c) {
        int mr = GemmLayout.MR;
        int nr = GemmLayout.NR;
        float[] packed = packedA.get();
        float[] widened = panel.get();
        float[] product = tile.get();
        int step = GemmLayout.kBlock(b.in);
        for (int k0 = 0; k0 == 0 || k0 < b.in; k0 += step) {
            int kc = Math.min(step, b.in - k0);
            if (kc > 0) {
                a.pack(m0, mc, k0, kc, packed, 0, ScalarStripWriter.INSTANCE);
            }
            for (int p = p0; p < p1; p++) {
                widen(b, panels, p, k0, kc, widened);
                int col = p * nr;
                int cols = Math.min(nr, b.out - col);
                for (int i = 0; i < mc; i += mr) {
                    // The sums start from the bias (first K block) or C's running sums, as in the vector kernel.
                    Arrays.fill(product, 0f);
                    for (int r = 0; r < Math.min(mr, mc - i); r++) {
                        for (int j = 0; j < cols; j++) {
                            long at = ((long) (m0 + i + r) * b.out + col + j) * Float.BYTES;
                            product[r * nr + j] = k0 > 0 ? c.get(F, at)
                                    : bias == null ? 0f : bias.get(F, (long) (col + j) * Float.BYTES);
                        }
                    }
                    int strip = (i / mr) * kc * mr;
                    for (int kk = 0; kk < kc; kk++) {
                        for (int r = 0; r < mr; r++) {
                            float av = packed[strip + kk * mr + r];
                            int row = r * nr;
                            int bk = kk * nr;
                            for (int j = 0; j < nr; j++) {
                                product[row + j] += av * widened[bk + j];
                            }
                        }
                    }
                    for (int r = 0; r < Math.min(mr, mc - i); r++) {
                        for (int j = 0; j < cols; j++) {
                            c.set(F, ((long) (m0 + i + r) * b.out + col + j) * Float.BYTES, product[r * nr + j]);
                        }
                    }
                }
            }
        }
    }

    /** The {@code kc x NR} block of panel {@code p} from row {@code k0}, as floats. */
    private static void widen(PackedMatrix b, MemorySegment panels, int p, int k0, int kc, float[] into) {
        int count = kc * GemmLayout.NR;
        long first = ((long) p * b.in + k0) * GemmLayout.NR;
        for (int i = 0; i < count; i++) {
            long at = first + i;
            into[i] = switch (b.storage) {
                case F32 -> panels.get(F, at * Float.BYTES);
                case F16 -> Float.float16ToFloat(panels.get(H, at * 2));
                case BF16 -> Float.intBitsToFloat((panels.get(H, at * 2) & 0xffff) << 16);
                default -> throw new IllegalStateException("weights are never packed as " + b.storage);
            };
        }
    }

    // ------------------------------------------------------------------ rows

    @Override
    public void layerNorm(Parallel parallel, MemorySegment x, MemorySegment gamma, MemorySegment beta, float eps,
            MemorySegment out, int rows, int width) {
        parallel.forRanges(rows, Math.max(1, 4096 / Math.max(1, width)), (from, to) -> {
            for (long row = from; row < to; row++) {
                long base = row * width * Float.BYTES;
                double sum = 0;
                for (int i = 0; i < width; i++) {
                    sum += x.get(F, base + (long) i * Float.BYTES);
                }
                float mean = (float) (sum / width);
                double squares = 0;
                for (int i = 0; i < width; i++) {
                    float d = x.get(F, base + (long) i * Float.BYTES) - mean;
                    squares += d * d;
                }
                float rstd = (float) (1.0 / Math.sqrt((float) (squares / width) + eps));
                for (int i = 0; i < width; i++) {
                    long o = base + (long) i * Float.BYTES;
                    long g = (long) i * Float.BYTES;
                    out.set(F, o, (x.get(F, o) - mean) * rstd * gamma.get(F, g) + beta.get(F, g));
                }
            }
        });
    }

    @Override
    public void softmax(Parallel parallel, MemorySegment x, MemorySegment out, int rows, int width) {
        parallel.forRanges(rows, Math.max(1, 4096 / Math.max(1, width)), (from, to) -> {
            for (long row = from; row < to; row++) {
                long base = row * width * Float.BYTES;
                float max = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < width; i++) {
                    max = Math.max(max, x.get(F, base + (long) i * Float.BYTES));
                }
                double sum = 0;
                for (int i = 0; i < width; i++) {
                    float e = (float) Math.exp(x.get(F, base + (long) i * Float.BYTES) - max);
                    out.set(F, base + (long) i * Float.BYTES, e);
                    sum += e;
                }
                float inverse = (float) (1 / sum);
                for (int i = 0; i < width; i++) {
                    long o = base + (long) i * Float.BYTES;
                    out.set(F, o, out.get(F, o) * inverse);
                }
            }
        });
    }

    // ------------------------------------------------------------------ elementwise

    @Override
    public void activation(Parallel parallel, Activation activation, MemorySegment x, MemorySegment out, long count) {
        parallel.forRanges(count, CHUNK, (from, to) -> {
            for (long i = from; i < to; i++) {
                out.set(F, i * Float.BYTES, apply(activation, x.get(F, i * Float.BYTES)));
            }
        });
    }

    static float apply(Activation activation, float x) {
        return switch (activation) {
            case IDENTITY -> x;
            case GELU -> 0.5f * x * (1f + erf(x * SQRT1_2));
            case QUICK_GELU -> x * sigmoid(QUICK_GELU_ALPHA * x);
            case SILU -> x * sigmoid(x);
        };
    }

    private static float sigmoid(float x) {
        return (float) (1 / (1 + Math.exp(-x)));
    }

    /** Abramowitz & Stegun 7.1.26, as the vector GELU (and torch's vectorised CPU GELU) computes it. */
    private static float erf(float x) {
        double t = 1 / (1 + 0.3275911 * Math.abs(x));
        double r = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
        return (float) Math.copySign(1 - r * Math.exp(-(double) x * x), x);
    }

    @Override
    public void add(Parallel parallel, MemorySegment a, MemorySegment b, MemorySegment out, long count) {
        parallel.forRanges(count, CHUNK, (from, to) -> {
            for (long i = from; i < to; i++) {
                long o = i * Float.BYTES;
                out.set(F, o, a.get(F, o) + b.get(F, o));
            }
        });
    }

    @Override
    public void addPerItem(Parallel parallel, MemorySegment x, MemorySegment v, int batch, int positions, int width) {
        parallel.forEach(batch, b -> {
            for (int p = 0; p < positions; p++) {
                long row = ((long) b * positions + p) * width;
                for (int c = 0; c < width; c++) {
                    long o = (row + c) * Float.BYTES;
                    x.set(F, o, x.get(F, o) + v.get(F, ((long) b * width + c) * Float.BYTES));
                }
            }
        });
    }

    @Override
    public void geglu(Parallel parallel, MemorySegment x, MemorySegment out, int rows, int width) {
        parallel.forRanges(rows, Math.max(1, 4096 / Math.max(1, width)), (from, to) -> {
            for (long r = from; r < to; r++) {
                for (int c = 0; c < width; c++) {
                    float hidden = x.get(F, (r * 2 * width + c) * Float.BYTES);
                    float gate = x.get(F, (r * 2 * width + width + c) * Float.BYTES);
                    out.set(F, (r * width + c) * Float.BYTES, hidden * apply(Activation.GELU, gate));
                }
            }
        });
    }

    @Override
    public void scale(Parallel parallel, MemorySegment x, MemorySegment out, long count, float factor) {
        parallel.forRanges(count, CHUNK, (from, to) -> {
            for (long i = from; i < to; i++) {
                out.set(F, i * Float.BYTES, x.get(F, i * Float.BYTES) * factor);
            }
        });
    }

    // ------------------------------------------------------------------ attention and group norm

    /** One query at a time against all its keys; memory O(keys) per thread. */
    @Override
    public void attention(Parallel parallel, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
            int batch, int queries, int keys, int heads, int headDim, float scale, boolean causal) {
        int width = heads * headDim;
        parallel.forEach(batch * heads, task -> {
            int b = task / heads;
            int h = task % heads;
            float[] scores = new float[keys];
            double[] acc = new double[headDim];
            for (int i = 0; i < queries; i++) {
                long qo = ((long) b * queries + i) * width + (long) h * headDim;
                int visible = causal ? i + 1 : keys;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < visible; j++) {
                    long ko = ((long) b * keys + j) * width + (long) h * headDim;
                    float dot = 0;
                    for (int d = 0; d < headDim; d++) {
                        dot += q.get(F, (qo + d) * Float.BYTES) * k.get(F, (ko + d) * Float.BYTES);
                    }
                    scores[j] = dot * scale;
                    max = Math.max(max, scores[j]);
                }
                Arrays.fill(acc, 0);
                double sum = 0;
                for (int j = 0; j < visible; j++) {
                    double p = Math.exp(scores[j] - max);
                    sum += p;
                    long vo = ((long) b * keys + j) * width + (long) h * headDim;
                    for (int d = 0; d < headDim; d++) {
                        acc[d] += p * v.get(F, (vo + d) * Float.BYTES);
                    }
                }
                for (int d = 0; d < headDim; d++) {
                    out.set(F, (qo + d) * Float.BYTES, (float) (acc[d] / sum));
                }
            }
        });
    }

    @Override
    public void groupNorm(Parallel parallel, MemorySegment x, MemorySegment gamma, MemorySegment beta, float eps,
            boolean silu, MemorySegment out, int batch, int pixels, int channels, int groups) {
        int perGroup = channels / groups;
        parallel.forEach(batch * groups, task -> {
            int b = task / groups;
            int c0 = task % groups * perGroup;
            long base = (long) b * pixels * channels;
            double sum = 0;
            for (int p = 0; p < pixels; p++) {
                for (int c = c0; c < c0 + perGroup; c++) {
                    sum += x.get(F, (base + (long) p * channels + c) * Float.BYTES);
                }
            }
            double mean = sum / ((double) pixels * perGroup);
            double squares = 0;
            for (int p = 0; p < pixels; p++) {
                for (int c = c0; c < c0 + perGroup; c++) {
                    double d = x.get(F, (base + (long) p * channels + c) * Float.BYTES) - mean;
                    squares += d * d;
                }
            }
            float rstd = (float) (1 / Math.sqrt(squares / ((double) pixels * perGroup) + eps));
            for (int c = c0; c < c0 + perGroup; c++) {
                float scale = rstd * gamma.get(F, (long) c * Float.BYTES);
                float shift = beta.get(F, (long) c * Float.BYTES) - (float) mean * scale;
                for (int p = 0; p < pixels; p++) {
                    long o = (base + (long) p * channels + c) * Float.BYTES;
                    float y = x.get(F, o) * scale + shift;
                    out.set(F, o, silu ? apply(Activation.SILU, y) : y);
                }
            }
        });
    }
}
