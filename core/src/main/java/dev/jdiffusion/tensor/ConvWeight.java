package dev.jdiffusion.tensor;

/** The weight of a 2-D convolution, {@code [out, in, kernelHeight, kernelWidth]}, prepared for its backend. */
public interface ConvWeight extends LinearWeight {
    int inChannels();

    int kernelHeight();

    int kernelWidth();
}
