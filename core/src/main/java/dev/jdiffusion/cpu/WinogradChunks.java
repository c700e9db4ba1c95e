package dev.jdiffusion.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The schedule of {@link WinogradKernel} for few input channels: each thread takes a chunk of tiles at a time
 * and carries it through all three phases in its own caches. The chunk's patches are transformed straight into
 * the packed strips the GEMM micro-kernel reads, so no packing pass reads them back; then, panel by panel of
 * output channels, the 36 products of the chunk with that panel's transformed weights run into a small block of
 * sums, which is transformed into the output before the next panel's. Blocks shared by the threads instead send
 * the transformed patches and the sums out to L3 or memory between the phases, where the two cores compete.
 *
 * <p>The price is that every chunk reads all of the transformed weights, each value (4 bytes) serving two FLOP
 * per tile of the chunk. With {@link #CHUNK_FLOATS} of transformed patches, a chunk has about 110 tiles at 128
 * input channels: 3 GB/s of weights per thread at the micro-kernel's pace, well inside what one core reads
 * from L3 (about 28 GB/s here). At 512 channels it would be 14 tiles and 26 GB/s, which is why wider
 * convolutions go in blocks.
 */
final class WinogradChunks {
    private static final int POSITIONS = Winograd4x4Weights.POSITIONS;
    private static final int MR = GemmLayout.MR;
    private static final int NR = GemmLayout.NR;
    /**
     * Most floats of transformed patches per chunk (2 MiB): at 128 channels, chunks of 1 to 4 MiB were within
     * the noise of each other; at 256, chunks of 1 MiB took 1.1 times as long as of 2 (the weights read twice
     * as often).
     */
    static final long CHUNK_FLOATS = 512 * 1024;
    /**
     * Most bytes of transformed weights at once (16 MiB, kept by each calling thread; those of a 128 x 128
     * weight take 2.4 MB): the output channels go in groups of panels whose transformed weights fit.
     */
    static final long GROUP_BYTES = 16L << 20;

    /** The transformed weights, on the heap, where the micro-kernel reads its panels: the calling thread's. */
    private static final ThreadLocal<float[]> TRANSFORMED = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<ChunkBuffers> BUFFERS = ThreadLocal.withInitial(ChunkBuffers::new);

    private WinogradChunks() {}

    /** {@link WinogradKernel#convolve} in chunks. */
    static void convolve(Parallel parallel, ConvPatches input, int batch, PackedMatrix weight, MemorySegment bias,
            MemorySegment out) {
        convolve(parallel, input, batch, weight, bias, out, CHUNK_FLOATS, GROUP_BYTES);
    }

    /**
     * As above, with at most {@code chunkFloats} floats of transformed patches per chunk (at least one strip of
     * tiles) and {@code groupBytes} of transformed weights at once (at least one panel's).
     */
    static void convolve(Parallel parallel, ConvPatches input, int batch, PackedMatrix weight, MemorySegment bias,
            MemorySegment out, long chunkFloats, long groupBytes) {
        Winograd4x4Tiles tiles = Winograd4x4Tiles.of(input, batch, weight, bias, out);
        int channels = weight.channels;
        int perChunk = tilesPerChunk(tiles.count(), channels, chunkFloats, parallel.threads());
        int chunks = (tiles.count() + perChunk - 1) / perChunk;
        GemmKernel.Panels directPanels = weight.gemmPanels(parallel);
        for (Winograd4x4Weights.Group group : Winograd4x4Weights.groups(weight, groupBytes)) {
            float[] u = transformedWeights(Winograd4x4Weights.bytes(channels, group.panels()) / Float.BYTES);
            int uAt = ArrayAlignment.lineStart(u, 0);
            Winograd4x4Weights.transform(parallel, directPanels, group,
                    MemorySegment.ofArray(u).asSlice((long) uAt * Float.BYTES));
            parallel.forEach(chunks, chunk -> convolveChunk(tiles, chunk * perChunk,
                    Math.min(perChunk, tiles.count() - chunk * perChunk), channels, u, uAt, group));
        }
    }

    /**
     * Tiles per chunk: whole strips, as many as {@code chunkFloats} of transformed patches allow, evened out over
     * a multiple of the thread count of chunks (so that no thread is left one chunk more than the others).
     */
    private static int tilesPerChunk(int tiles, int channels, long chunkFloats, int threads) {
        long most = Math.max(MR, chunkFloats / ((long) POSITIONS * channels) / MR * MR);
        long chunks = (tiles + most - 1) / most;
        chunks = (chunks + threads - 1) / threads * threads;
        long even = (tiles + chunks - 1) / chunks;
        return (int) Math.max(MR, (even + MR - 1) / MR * MR);
    }

    /**
     * This thread's array for {@code floats} of transformed weights, grown as needed, with room to start them on
     * a cache line ({@link ArrayAlignment}).
     */
    private static float[] transformedWeights(long floats) {
        float[] u = TRANSFORMED.get();
        if (u.length < floats + ArrayAlignment.SLACK_FLOATS) {
            u = new float[Math.toIntExact(floats + ArrayAlignment.SLACK_FLOATS)];
            TRANSFORMED.set(u);
        }
        return u;
    }

    /**
     * Tiles {@code [first, first + count)} for the output channels of {@code group}, on this thread: the patches
     * transformed and packed into strips for all 36 positions, then for each panel of output channels the 36
     * products into the block of sums and the sums transformed into the output. The transformed weights lie in
     * {@code u} from {@code uAt}.
     */
    private static void convolveChunk(Winograd4x4Tiles tiles, int first, int count, int channels, float[] u, int uAt,
            Winograd4x4Weights.Group group) {
        int strips = (count + MR - 1) / MR;
        int stripRows = strips * MR;
        int step = GemmLayout.kBlock(channels);
        ChunkBuffers buffers = BUFFERS.get();
        buffers.fit(stripRows, channels);
        int positionFloats = stripRows * channels;
        for (int s = 0; s < strips; s++) {
            packStrip(tiles, first, count, s, channels, step, positionFloats, stripRows, buffers);
        }
        long sumRowBytes = (long) NR * Float.BYTES;
        long sumPositionBytes = stripRows * sumRowBytes;
        for (int p = 0; p < group.panels(); p++) {
            for (int q = 0; q < POSITIONS; q++) {
                int panel = uAt + (q * group.panels() + p) * channels * NR;
                for (int k0 = 0; k0 < channels; k0 += step) {
                    GemmKernel.multiplyStrips(buffers.packed, q * positionFloats + stripRows * k0, strips,
                            Math.min(step, channels - k0), u, panel + k0 * NR, k0 == 0, buffers.sums,
                            q * sumPositionBytes, sumRowBytes);
                }
            }
            int firstChannel = group.first() + p * NR;
            int channelCount = Math.min(NR, group.first() + group.count() - firstChannel);
            for (int t = 0; t < count; t++) {
                tiles.writeTile(first + t, firstChannel, channelCount, buffers.sums, t * sumRowBytes, sumPositionBytes);
            }
        }
    }

    /**
     * Transforms the patches of strip {@code s} of the chunk ({@link GemmLayout#MR} tiles, fewer at its end) into
     * the strip buffer, then packs each position's rows of it into its strips, K block by K block as the products
     * walk them: position {@code q}'s block from {@code k0} at {@code q * positionFloats + stripRows * k0}, strip
     * {@code s} {@code s * kc * MR} into it.
     */
    private static void packStrip(Winograd4x4Tiles tiles, int first, int count, int s, int channels, int step,
            int positionFloats, int stripRows, ChunkBuffers buffers) {
        long rowBytes = (long) channels * Float.BYTES;
        int rows = Math.min(MR, count - s * MR);
        for (int r = 0; r < rows; r++) {
            tiles.transformPatch(first + s * MR + r, channels, buffers.strip, r * rowBytes,
                    MR * rowBytes);
        }
        // the strip buffer as a matrix of 36 x MR rows: position q's are rows [q MR, q MR + rows)
        DenseRows patches = new DenseRows(buffers.strip, channels);
        for (int q = 0; q < POSITIONS; q++) {
            for (int k0 = 0; k0 < channels; k0 += step) {
                int kc = Math.min(step, channels - k0);
                patches.pack(q * MR, rows, k0, kc, buffers.packed, q * positionFloats + stripRows * k0 + s * kc * MR,
                        VectorStripWriter.INSTANCE);
            }
        }
    }

    /** A thread's room for one chunk, grown as needed. */
    private static final class ChunkBuffers {
        /** The chunk's transformed patches, packed: 36 positions of {@code stripRows x channels}. */
        float[] packed = new float[0];
        /** One strip's transformed patches before they are interleaved: {@code [position][row][channel]}. */
        MemorySegment strip = MemorySegment.NULL;
        /** One panel's sums: {@code [position][stripRows][NR]}. */
        MemorySegment sums = MemorySegment.NULL;

        void fit(int stripRows, int channels) {
            int packedFloats = POSITIONS * stripRows * channels;
            if (packed.length < packedFloats) {
                packed = new float[packedFloats];
            }
            long stripBytes = (long) POSITIONS * MR * channels * Float.BYTES;
            if (strip.byteSize() < stripBytes) {
                strip = Arena.ofAuto().allocate(stripBytes, 64);
            }
            long sumBytes = (long) POSITIONS * stripRows * NR * Float.BYTES;
            if (sums.byteSize() < sumBytes) {
                sums = Arena.ofAuto().allocate(sumBytes, 64);
            }
        }
    }
}
