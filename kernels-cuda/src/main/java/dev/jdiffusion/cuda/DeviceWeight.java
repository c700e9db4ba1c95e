package dev.jdiffusion.cuda;

import dev.jdiffusion.tensor.ConvWeight;
import dev.jdiffusion.weights.DType;

/**
 * A product's or convolution's weight in device memory, uploaded once: {@code [out, in]} row-major in
 * {@code type} (F32, F16 or BF16). A convolution's {@code [out, channels, kh, kw]} is laid out as
 * {@code [out, kh, kw, channels]}, the column order of the backend's patch matrix. It stays on the GPU until
 * closed: {@link #unload()} keeps it, since the three models of a pipeline fit on any GPU that runs it, and
 * uploading them again for every picture would cost more than it frees.
 */
final class DeviceWeight implements ConvWeight {
    private final DeviceMemory memory;
    private final DType type;
    private final int out;
    private final int in;
    private final int channels;
    private final int kernelHeight;
    private final int kernelWidth;
    private long address;

    DeviceWeight(DeviceMemory memory, long address, DType type, int out, int channels, int kernelHeight, int kernelWidth) {
        this.memory = memory;
        this.address = address;
        this.type = type;
        this.out = out;
        this.channels = channels;
        this.kernelHeight = kernelHeight;
        this.kernelWidth = kernelWidth;
        this.in = channels * kernelHeight * kernelWidth;
    }

    long address() {
        if (address == 0) {
            throw new IllegalStateException("weight [" + out + ", " + in + "] used after close()");
        }
        return address;
    }

    DType type() {
        return type;
    }

    long bytes() {
        return (long) out * in * type.byteSize();
    }

    @Override
    public int inFeatures() {
        return in;
    }

    @Override
    public int outFeatures() {
        return out;
    }

    @Override
    public int inChannels() {
        return channels;
    }

    @Override
    public int kernelHeight() {
        return kernelHeight;
    }

    @Override
    public int kernelWidth() {
        return kernelWidth;
    }

    @Override
    public synchronized void close() {
        if (address != 0) {
            memory.free(address, bytes());
            address = 0;
        }
    }
}
