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
 * The machine's fused multiply-add peak as the Vector API reaches it: sixteen independent chains of
 * FMAs on registers, enough to cover the FMA latency on every port, with no memory traffic. Run with
 * JMH's thread count set to 1 and to the core count, it calibrates the peak the other benchmarks are
 * measured against.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class FmaPeakBenchmark {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int ITERATIONS = 4096;
    static final int CHAINS = 16;

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

    @Benchmark
    public float fma() {
        FloatVector va = FloatVector.broadcast(S, a);
        FloatVector vb = FloatVector.broadcast(S, b);
        FloatVector c0 = va, c1 = va, c2 = va, c3 = va, c4 = va, c5 = va, c6 = va, c7 = va;
        FloatVector c8 = vb, c9 = vb, c10 = vb, c11 = vb, c12 = vb, c13 = vb, c14 = vb, c15 = vb;
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
            c12 = c12.fma(va, vb);
            c13 = c13.fma(va, vb);
            c14 = c14.fma(va, vb);
            c15 = c15.fma(va, vb);
        }
        FloatVector sum = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7)
                .add(c8).add(c9).add(c10).add(c11).add(c12).add(c13).add(c14).add(c15);
        return sum.lane(0);
    }
}
