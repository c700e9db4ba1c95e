package dev.jdiffusion.benchmarks;

import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The machine's fused multiply-add peak as the Vector API reaches it: independent chains of FMAs on
 * registers, enough to cover the FMA latency on every port, with no memory traffic. Run with
 * JMH's thread count set to 1 and to the core count, it calibrates the peak the other benchmarks are
 * measured against.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class FmaPeakBenchmark {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int ITERATIONS = 4096;
    static final int CHAINS = 12;

    /** Floating-point operations (2 per lane per FMA) of one benchmark invocation. */
    public static double flopsPerInvocation() {
        return 2.0 * ITERATIONS * CHAINS * S.length();
    }

    private float a;
    private float b;

    @Setup
    public void setup() {
        a = 0.999f;
        b = 1e-4f;
    }

    /**
     * Twelve chains: enough to hide the FMA latency on two ports. Each starts from its own value:
     * C2 keeps loop-carried vectors in registers only when none share an initial value.
     */
    @Benchmark
    public float fma() {
        FloatVector va = FloatVector.broadcast(S, a);
        FloatVector vb = FloatVector.broadcast(S, b);
        FloatVector c0 = FloatVector.broadcast(S, 0f), c1 = FloatVector.broadcast(S, 1f);
        FloatVector c2 = FloatVector.broadcast(S, 2f), c3 = FloatVector.broadcast(S, 3f);
        FloatVector c4 = FloatVector.broadcast(S, 4f), c5 = FloatVector.broadcast(S, 5f);
        FloatVector c6 = FloatVector.broadcast(S, 6f), c7 = FloatVector.broadcast(S, 7f);
        FloatVector c8 = FloatVector.broadcast(S, 8f), c9 = FloatVector.broadcast(S, 9f);
        FloatVector c10 = FloatVector.broadcast(S, 10f), c11 = FloatVector.broadcast(S, 11f);
        for (int i = 0; i < ITERATIONS; i++) {
            c0 = c0.fma(va, vb);
            c1 = c1.fma(va, vb);
            c2 = c2.fma(va, vb);
            c3 = c3.fma(va, vb);
            c4 = c4.fma(va, vb);
            c5 = c5.fma(va, vb);
            c6 = c6.fma(va, vb);
            c7 = c7.fma(va, vb);
            c8 = c8.fma(va, vb);
            c9 = c9.fma(va, vb);
            c10 = c10.fma(va, vb);
            c11 = c11.fma(va, vb);
        }
        FloatVector sum = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11);
        return sum.lane(0);
    }
}
