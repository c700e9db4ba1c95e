package dev.jdiffusion.profile;

import dev.jdiffusion.tensor.Activation;
import dev.jdiffusion.tensor.Backend;
import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.tensor.Device;
import dev.jdiffusion.tensor.LinearWeight;
import dev.jdiffusion.tensor.Padding;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.RawTensor;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A backend that times every op of another and counts its floating-point work, so the cost of a forward
 * pass can be read per kind of layer: {@code new ProfilingBackend(cpu)}, build the models on it, run, then
 * {@link #report(double)}. Ops are timed as the caller sees them (each op returns when its work is done).
 */
public final class ProfilingBackend implements Backend {
    private final Backend inner;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    private static final class Entry {
        long calls;
        long nanos;
        double flops;
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
    }

    private <T> T timed(String op, double flops, Supplier<T> work) {
        long start = System.nanoTime();
        T result = work.get();
        long elapsed = System.nanoTime() - start;
        synchronized (this) {
            Entry e = entries.computeIfAbsent(op, k -> new Entry());
            e.calls++;
            e.nanos += elapsed;
            e.flops += flops;
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
        double total = entries.values().stream().mapToLong(e -> e.nanos).sum() / 1e9;
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
                "| op | calls | seconds | share | GFLOP | GFLOP/s |%s%n|---|---:|---:|---:|---:|---:|%s%n",
                peakGflops > 0 ? " of peak |" : "", peakGflops > 0 ? "---:|" : ""));
        entries.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue().nanos, a.getValue().nanos)).forEach(en -> {
            Entry e = en.getValue();
            double seconds = e.nanos / 1e9;
            double rate = e.flops / 1e9 / Math.max(seconds, 1e-12);
            out.append(String.format(Locale.ROOT, "| %s | %d | %.3f | %.1f%% | %.1f | %.1f |", en.getKey(), e.calls, seconds,
                    100 * seconds / Math.max(total, 1e-12), e.flops / 1e9, rate));
            if (peakGflops > 0) {
                out.append(String.format(Locale.ROOT, " %.0f%% |", 100 * rate / peakGflops));
            }
            out.append('\n');
        });
        out.append(String.format(Locale.ROOT, "| total | | %.3f | 100%% | | |%n", total));
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
    public float[] toFloatArray(Tensor tensor) {
        return inner.toFloatArray(tensor);
    }

    @Override
    public LinearWeight prepareLinear(RawTensor weight) {
        return inner.prepareLinear(weight);
    }

    @Override
    public Tensor linear(Tensor x, LinearWeight weight, Tensor bias) {
        double rows = x.elementCount() / (double) x.dim(-1);
        return timed("linear", 2 * rows * weight.inFeatures() * weight.outFeatures(), () -> inner.linear(x, weight, bias));
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
        return timed("attention", flops, () -> inner.attention(q, k, v, heads, scale, causal));
    }

    @Override
    public ConvWeight prepareConv(RawTensor weight) {
        return inner.prepareConv(weight);
    }

    @Override
    public Tensor conv2d(Tensor x, ConvWeight weight, Tensor bias, int stride, Padding padding) {
        return timedConvolution("conv", weight, () -> inner.conv2d(x, weight, bias, stride, padding));
    }

    @Override
    public Tensor upsampleConv2d(Tensor x, int height, int width, ConvWeight weight, Tensor bias, Padding padding) {
        return timedConvolution("upsample+conv", weight, () -> inner.upsampleConv2d(x, height, width, weight, bias, padding));
    }

    /** A convolution timed under its kind and kernel size; its work is known only from the output's size. */
    private Tensor timedConvolution(String kind, ConvWeight weight, Supplier<Tensor> work) {
        String op = kind + weight.kernelHeight() + "x" + weight.kernelWidth();
        Tensor result = timed(op, 0, work);
        double flops = 2.0 * result.elementCount() * weight.inFeatures();
        synchronized (this) {
            entries.get(op).flops += flops;
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
    public void releaseCachedMemory() {
        inner.releaseCachedMemory();
    }

    /** Closes the profiled backend. */
    @Override
    public void close() {
        inner.close();
    }
}
