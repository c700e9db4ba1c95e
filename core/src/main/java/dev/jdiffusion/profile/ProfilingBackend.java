package dev.jdiffusion.profile;

import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Padding;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.RawTensor;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A backend that times every op of another and counts its floating-point work, so the cost of a forward
 * pass can be read per kind of layer: {@code new ProfilingBackend(cpu)}, build the models on it, run, then
 * {@link #report(double)}; {@link #reportByShape(double, int)} breaks the products, convolutions and
 * attention down further by their shapes. Ops are timed as the caller sees them (each op returns when its
 * work is done).
 */
public final class ProfilingBackend implements Backend {
    private final Backend inner;
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, Entry> shapes = new LinkedHashMap<>();

    private static final class Entry {
        long calls;
        long nanos;
        double flops;

        void add(long elapsed, double work) {
            calls++;
            nanos += elapsed;
            flops += work;
        }
    }

    public ProfilingBackend(Backend inner) {
        this.inner = inner;
    }

    /** The floating-point work of the ops counted since the last {@link #reset()} (products, convolutions, attention). */
    public synchronized double totalFlops() {
        return entries.values().stream().mapToDouble(e -> e.flops).sum();
    }

    /** Forgets what was measured so far. */
    public synchronized void reset() {
        entries.clear();
        shapes.clear();
    }

    private <T> T timed(String op, double flops, Supplier<T> work) {
        return timed(op, null, flops, work);
    }

    /** Runs {@code work} and adds its time and work to {@code op}, and to {@code op + " " + shape} unless null. */
    private <T> T timed(String op, String shape, double flops, Supplier<T> work) {
        inner.synchronize(); // on a device that queues ops, the time of this one alone
        long start = System.nanoTime();
        T result = work.get();
        inner.synchronize();
        long elapsed = System.nanoTime() - start;
        synchronized (this) {
            entries.computeIfAbsent(op, k -> new Entry()).add(elapsed, flops);
            if (shape != null) {
                shapes.computeIfAbsent(op + " " + shape, k -> new Entry()).add(elapsed, flops);
            }
        }
        return result;
    }

    private void timed(String op, double flops, Runnable work) {
        timed(op, flops, () -> {
            work.run();
            return null;
        });
    }

    /**
     * A table of the ops by total time: calls, seconds, GFLOP, GFLOP/s, and each op's share of the time;
     * with {@code peakGflops > 0}, also the share of that peak each op reaches.
     */
    public synchronized String report(double peakGflops) {
        return table("op", entries, peakGflops, Integer.MAX_VALUE, true);
    }

    /**
     * The same table for the products, convolutions and attention by shape, the {@code rows} that took
     * longest; shares are of the time of all ops. The shapes read {@code linear 8192x320 -> 2560} (rows x
     * inputs -> outputs), {@code conv3x3 2x64x64x320 -> 320} (the input, channels-last and before the upsample
     * where there is one, -> output channels) and {@code attention 2x4096x4096, 8 heads of 40} (batch x
     * queries x keys).
     */
    public synchronized String reportByShape(double peakGflops, int rows) {
        return table("op and shape", shapes, peakGflops, rows, false);
    }

    private String table(String what, Map<String, Entry> table, double peakGflops, int rows, boolean withTotal) {
        double total = entries.values().stream().mapToLong(e -> e.nanos).sum() / 1e9;
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
                "| %s | calls | seconds | share | GFLOP | GFLOP/s |%s%n|---|---:|---:|---:|---:|---:|%s%n",
                what, peakGflops > 0 ? " of peak |" : "", peakGflops > 0 ? "---:|" : ""));
        table.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue().nanos, a.getValue().nanos)).limit(rows)
                .forEach(en -> {
                    Entry e = en.getValue();
                    double seconds = e.nanos / 1e9;
                    double rate = e.flops / 1e9 / Math.max(seconds, 1e-12);
                    out.append(String.format(Locale.ROOT, "| %s | %d | %.3f | %.1f%% | %.1f | %.1f |", en.getKey(),
                            e.calls, seconds, 100 * seconds / Math.max(total, 1e-12), e.flops / 1e9, rate));
                    if (peakGflops > 0) {
                        out.append(String.format(Locale.ROOT, " %.0f%% |", 100 * rate / peakGflops));
                    }
                    out.append('\n');
                });
        if (withTotal) {
            out.append(String.format(Locale.ROOT, "| total | | %.3f | 100%% | | |%n", total));
        }
        return out.toString();
    }

    @Override
    public Device device() {
        return inner.device();
    }

    @Override
    public Tensor empty(int... shape) {
        return inner.empty(shape);
    }

    @Override
    public Tensor fromFloats(float[] values, int... shape) {
        return inner.fromFloats(values, shape);
    }

    @Override
    public Tensor fromRaw(RawTensor raw) {
        return inner.fromRaw(raw);
    }

    @Override
    public Tensor copy(Tensor tensor) {
        return timed("copy", 0, () -> inner.copy(tensor));
    }

    @Override
    public Tensor repeatBatch(Tensor x, int times) {
        return timed("repeatBatch", 0, () -> inner.repeatBatch(x, times));
    }

    @Override
    public float[] toFloatArray(Tensor tensor) {
        return inner.toFloatArray(tensor);
    }

    @Override
    public LinearWeight prepareLinear(RawTensor weight, DType heldAs) {
        return inner.prepareLinear(weight, heldAs);
    }

    @Override
    public Tensor linear(Tensor x, LinearWeight weight, Tensor bias) {
        return timedLinear("linear", x, weight, () -> inner.linear(x, weight, bias));
    }

    @Override
    public Tensor linear(Tensor x, LinearWeight weight, Tensor bias, Tensor residual) {
        if (residual == null) {
            return linear(x, weight, bias);
        }
        return timedLinear("linear+residual", x, weight, () -> inner.linear(x, weight, bias, residual));
    }

    private Tensor timedLinear(String op, Tensor x, LinearWeight weight, Supplier<Tensor> work) {
        long rows = x.elementCount() / x.dim(-1);
        String shape = rows + "x" + weight.inFeatures() + " -> " + weight.outFeatures();
        return timed(op, shape, 2.0 * rows * weight.inFeatures() * weight.outFeatures(), work);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        return timed("layerNorm", 0, () -> inner.layerNorm(x, gamma, beta, eps));
    }

    @Override
    public Tensor softmax(Tensor x) {
        return timed("softmax", 0, () -> inner.softmax(x));
    }

    @Override
    public Tensor activation(Tensor x, Activation activation) {
        return timed("activation " + activation.configName(), 0, () -> inner.activation(x, activation));
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return timed("add", 0, () -> inner.add(a, b));
    }

    @Override
    public void addInPlace(Tensor a, Tensor b) {
        timed("add", 0, () -> inner.addInPlace(a, b));
    }

    @Override
    public Tensor gatherRows(Tensor table, int[] indices) {
        return timed("gatherRows", 0, () -> inner.gatherRows(table, indices));
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        double flops = 4.0 * q.dim(0) * q.dim(1) * k.dim(1) * q.dim(2) * (causal ? 0.5 : 1);
        String shape = q.dim(0) + "x" + q.dim(1) + "x" + k.dim(1) + ", " + heads + " heads of " + q.dim(2) / heads
                + (causal ? ", causal" : "");
        return timed("attention", shape, flops, () -> inner.attention(q, k, v, heads, scale, causal));
    }

    @Override
    public ConvWeight prepareConv(RawTensor weight, DType heldAs) {
        return inner.prepareConv(weight, heldAs);
    }

    @Override
    public Tensor conv2d(Tensor x, ConvWeight weight, Tensor bias, int stride, Padding padding) {
        return timedConvolution("conv", x, weight, () -> inner.conv2d(x, weight, bias, stride, padding));
    }

    @Override
    public Tensor conv2d(Tensor x, ConvWeight weight, Tensor bias, int stride, Padding padding, Tensor residual) {
        if (residual == null) {
            return conv2d(x, weight, bias, stride, padding);
        }
        return timedConvolution("conv", "+residual", x, weight,
                () -> inner.conv2d(x, weight, bias, stride, padding, residual));
    }

    @Override
    public Tensor upsampleConv2d(Tensor x, int height, int width, ConvWeight weight, Tensor bias, Padding padding) {
        return timedConvolution("upsample+conv", x, weight,
                () -> inner.upsampleConv2d(x, height, width, weight, bias, padding));
    }

    private Tensor timedConvolution(String kind, Tensor x, ConvWeight weight, Supplier<Tensor> work) {
        return timedConvolution(kind, "", x, weight, work);
    }

    /**
     * A convolution timed under its kind, kernel size and what it adds ({@code conv3x3+residual}); its work is known
     * only from the output's size.
     */
    private Tensor timedConvolution(String kind, String suffix, Tensor x, ConvWeight weight, Supplier<Tensor> work) {
        String op = kind + weight.kernelHeight() + "x" + weight.kernelWidth() + suffix;
        String shape = x.dim(0) + "x" + x.dim(1) + "x" + x.dim(2) + "x" + x.dim(3) + " -> " + weight.outFeatures();
        Tensor result = timed(op, shape, 0, work);
        double flops = 2.0 * result.elementCount() * weight.inFeatures();
        synchronized (this) {
            entries.get(op).flops += flops;
            shapes.get(op + " " + shape).flops += flops;
        }
        return result;
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        return timed(silu ? "groupNorm+silu" : "groupNorm", 0, () -> inner.groupNorm(x, groups, gamma, beta, eps, silu));
    }

    @Override
    public Tensor upsampleNearest(Tensor x, int height, int width) {
        return timed("upsampleNearest", 0, () -> inner.upsampleNearest(x, height, width));
    }

    @Override
    public Tensor concat(Tensor a, Tensor b) {
        return timed("concat", 0, () -> inner.concat(a, b));
    }

    @Override
    public void addPerItem(Tensor x, Tensor v) {
        timed("addPerItem", 0, () -> inner.addPerItem(x, v));
    }

    @Override
    public Tensor geglu(Tensor x) {
        return timed("geglu", 0, () -> inner.geglu(x));
    }

    @Override
    public Tensor transpose(Tensor x) {
        return timed("transpose", 0, () -> inner.transpose(x));
    }

    @Override
    public Tensor narrowLast(Tensor x, int from, int length) {
        return timed("narrowLast", 0, () -> inner.narrowLast(x, from, length));
    }

    @Override
    public Tensor scale(Tensor x, float factor) {
        return timed("scale", 0, () -> inner.scale(x, factor));
    }

    @Override
    public void synchronize() {
        inner.synchronize();
    }

    @Override
    public void releaseCachedMemory() {
        inner.releaseCachedMemory();
    }

    @Override
    public void releaseCachedMemoryLargerThan(long bytes) {
        inner.releaseCachedMemoryLargerThan(bytes);
    }

    /** Closes the profiled backend. */
    @Override
    public void close() {
        inner.close();
    }
}
