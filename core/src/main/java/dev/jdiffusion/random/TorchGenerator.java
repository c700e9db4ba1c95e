package dev.jdiffusion.random;

/**
 * A random generator that draws the same numbers as {@code torch.Generator("cpu").manual_seed(seed)}:
 * the same MT19937 stream, the same uniform conversions, and the same normal sampling — Box-Muller
 * over blocks of 16 with torch's AVX2 float math for tensors of 16 or more floats, the scalar double
 * path (caching its second sample as torch does) for smaller ones. So "seed 42" here is seed 42 in
 * diffusers on a CPU. Not thread-safe; one generator per request.
 */
public final class TorchGenerator {
    private static final float TWO_PI = (float) (2 * Math.PI);

    private Mt19937 engine;
    private Double cachedNormal;
    private long initialSeed;

    public TorchGenerator(long seed) {
        manualSeed(seed);
    }

    /** Restarts the stream; as torch, only the low 32 bits of the seed matter. */
    public TorchGenerator manualSeed(long seed) {
        this.engine = new Mt19937((int) seed);
        this.cachedNormal = null;
        this.initialSeed = seed;
        return this;
    }

    /** The seed given last. */
    public long initialSeed() {
        return initialSeed;
    }

    private float uniformFloat() {
        return (engine.nextInt() & 0xFFFFFF) * 0x1.0p-24f;
    }

    private double uniformDouble() {
        long hi = Integer.toUnsignedLong(engine.nextInt());
        long lo = Integer.toUnsignedLong(engine.nextInt());
        return (((hi << 32) | lo) & ((1L << 53) - 1)) * 0x1.0p-53;
    }

    /** {@code torch.rand(count)}: uniform floats in [0, 1). */
    public float[] rand(int count) {
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            out[i] = uniformFloat();
        }
        return out;
    }

    /** {@code torch.randn(count)} in float32. */
    public float[] randn(int count) {
        float[] out = new float[count];
        if (count >= 16) {
            for (int i = 0; i < count; i++) {
                out[i] = uniformFloat();
            }
            for (int i = 0; i + 16 <= count; i += 16) {
                boxMuller16(out, i);
            }
            if (count % 16 != 0) {
                // torch redraws the last 16 positions and transforms them again
                for (int i = count - 16; i < count; i++) {
                    out[i] = uniformFloat();
                }
                boxMuller16(out, count - 16);
            }
        } else {
            for (int i = 0; i < count; i++) {
                out[i] = (float) scalarNormal();
            }
        }
        return out;
    }

    /** {@code torch.randn(count, dtype=torch.float64)}. */
    public double[] randnDouble(int count) {
        double[] out = new double[count];
        if (count >= 16) {
            for (int i = 0; i < count; i++) {
                out[i] = uniformDouble();
            }
            for (int i = 0; i + 16 <= count; i += 16) {
                boxMuller16(out, i);
            }
            if (count % 16 != 0) {
                for (int i = count - 16; i < count; i++) {
                    out[i] = uniformDouble();
                }
                boxMuller16(out, count - 16);
            }
        } else {
            for (int i = 0; i < count; i++) {
                out[i] = scalarNormal();
            }
        }
        return out;
    }

    /** torch's AVX2 {@code normal_fill_16}: uniforms {@code u[0..8)}, {@code u[8..16)} to 16 normals. */
    private static void boxMuller16(float[] data, int at) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - data[at + j];
            float u2 = data[at + j + 8];
            float radius = (float) Math.sqrt(-2f * CephesFloatMath.log(u1));
            float[] sinCos = CephesFloatMath.sinCos(TWO_PI * u2);
            data[at + j] = radius * sinCos[1];
            data[at + j + 8] = radius * sinCos[0];
        }
    }

    /** torch's scalar {@code normal_fill_16} for doubles. */
    private static void boxMuller16(double[] data, int at) {
        for (int j = 0; j < 8; j++) {
            double u1 = 1 - data[at + j];
            double u2 = data[at + j + 8];
            double radius = Math.sqrt(-2 * Math.log(u1));
            double theta = 2.0 * Math.PI * u2;
            data[at + j] = radius * Math.cos(theta);
            data[at + j + 8] = radius * Math.sin(theta);
        }
    }

    /** torch's {@code normal_distribution<double>}: Box-Muller on two doubles, the sine half kept for the next call. */
    private double scalarNormal() {
        if (cachedNormal != null) {
            double cached = cachedNormal;
            cachedNormal = null;
            return cached;
        }
        double u1 = uniformDouble();
        double u2 = uniformDouble();
        double radius = Math.sqrt(-2 * Math.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = radius * Math.sin(theta);
        return radius * Math.cos(theta);
    }
}
