package dev.jdiffusion.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;

/**
 * A caching allocator of device memory. {@code cudaMalloc} and {@code cudaFree} synchronise the device and cost
 * tens of microseconds, and a denoising step asks for the same sizes every time, so freed blocks are kept by size
 * and handed out again. Sizes are rounded up (to 512 bytes, and to 2 MiB from 1 MiB on) so that blocks of nearly
 * equal sizes serve each other. All ops run on one stream, so a block freed by one op and given to the next is
 * never written while the first still reads it.
 */
final class DeviceMemory implements AutoCloseable {
    private static final long SMALL_ROUNDING = 512;
    private static final long LARGE_ROUNDING = 2L << 20;

    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    private long cachedBytes;
    private long usedBytes;
    private long peakBytes;

    /** The size a request of {@code bytes} is served with. */
    static long rounded(long bytes) {
        long unit = bytes >= (1L << 20) ? LARGE_ROUNDING : SMALL_ROUNDING;
        return Math.max(unit, (bytes + unit - 1) / unit * unit);
    }

    /** A block of at least {@code bytes}; its address. Frees cached blocks and retries when the GPU is full. */
    synchronized long allocate(long bytes) {
        long size = rounded(bytes);
        ArrayDeque<Long> cached = free.get(size);
        long address;
        if (cached != null && !cached.isEmpty()) {
            address = cached.pop();
            cachedBytes -= size;
        } else {
            address = cudaMalloc(size);
        }
        usedBytes += size;
        peakBytes = Math.max(peakBytes, usedBytes + cachedBytes);
        return address;
    }

    /** Gives back a block of {@code bytes} from {@link #allocate}, kept for the next request of its size. */
    synchronized void free(long address, long bytes) {
        long size = rounded(bytes);
        free.computeIfAbsent(size, s -> new ArrayDeque<>()).push(address);
        usedBytes -= size;
        cachedBytes += size;
    }

    /** Frees the cached blocks larger than {@code bytes} (all of them for a negative bound). */
    synchronized void releaseCachedLargerThan(long bytes) {
        Iterator<Map.Entry<Long, ArrayDeque<Long>>> sizes = free.entrySet().iterator();
        while (sizes.hasNext()) {
            Map.Entry<Long, ArrayDeque<Long>> size = sizes.next();
            if (size.getKey() > bytes) {
                for (long address : size.getValue()) {
                    CudaCalls.check(cudart.cudaFree(new DevicePointer(address)), "cudaFree");
                    cachedBytes -= size.getKey();
                }
                sizes.remove();
            }
        }
    }

    /** The most device memory held at once, in use and cached, since this allocator was made. */
    synchronized long peakBytes() {
        return peakBytes;
    }

    private long cudaMalloc(long size) {
        Pointer block = new Pointer();
        int status = cudart.cudaMalloc(block, size);
        if (status == cudart.cudaErrorMemoryAllocation) {
            cudart.cudaGetLastError();
            releaseCachedLargerThan(-1);
            status = cudart.cudaMalloc(block, size);
            if (status == cudart.cudaErrorMemoryAllocation) {
                cudart.cudaGetLastError();
                throw new CudaException(String.format(java.util.Locale.ROOT,
                        "out of GPU memory: %.1f MiB asked for with %.1f MiB in use by this backend", size / 1048576.0,
                        usedBytes / 1048576.0));
            }
        }
        CudaCalls.check(status, "cudaMalloc(" + size + ")");
        return block.address();
    }

    @Override
    public synchronized void close() {
        releaseCachedLargerThan(-1);
    }
}
