package dev.jdiffusion.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The backend's own kernels ({@link KernelSources}), compiled by NVRTC to machine code for the GPU's architecture
 * when the backend opens, loaded as modules and launched by name. Compiled code is kept per architecture for the
 * life of the process, so a second backend on the same kind of GPU compiles nothing.
 */
final class KernelLibrary implements AutoCloseable {
    private static final Map<String, byte[]> COMPILED = new ConcurrentHashMap<>();

    private final List<CUmod_st> modules = new ArrayList<>();
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    /** The most arguments a kernel of {@link KernelSources} takes, with room to spare. */
    private static final int MAX_ARGUMENTS = 16;

    private final CUstream_st stream;
    private final Arena arena = Arena.ofShared();
    /** One 8-byte slot per argument, and the array of their addresses that {@code cuLaunchKernel} reads. */
    private final MemorySegment argumentSlots = arena.allocate(8L * MAX_ARGUMENTS, 8);
    private final PointerPointer<?> argumentPointers = new PointerPointer<>(MAX_ARGUMENTS);

    KernelLibrary(String architecture, CUstream_st stream) {
        this.stream = stream;
        for (int i = 0; i < MAX_ARGUMENTS; i++) {
            argumentPointers.put(i, new DevicePointer(argumentSlots.address() + 8L * i));
        }
        for (Map.Entry<String, List<String>> file : KernelSources.KERNELS.entrySet()) {
            byte[] cubin = COMPILED.computeIfAbsent(architecture + "/" + file.getKey(), key -> compile(file.getKey(), architecture));
            CUmod_st module = new CUmod_st();
            try (BytePointer image = new BytePointer(cubin)) {
                CudaCalls.checkDriver(cudart.cuModuleLoadData(module, image), "cuModuleLoadData(" + file.getKey() + ")");
            }
            modules.add(module);
            for (String kernel : file.getValue()) {
                CUfunc_st function = new CUfunc_st();
                CudaCalls.checkDriver(cudart.cuModuleGetFunction(function, module, kernel), "cuModuleGetFunction(" + kernel + ")");
                functions.put(kernel, function);
            }
        }
    }

    /** NVRTC's machine code (CUBIN) of one source file for {@code architecture} ({@code sm_90}). */
    static byte[] compile(String file, String architecture) {
        _nvrtcProgram program = new _nvrtcProgram();
        List<String> headers = KernelSources.HEADERS;
        String[] headerSources = headers.stream().map(KernelSources::source).toArray(String[]::new);
        try (BytePointer source = new BytePointer(KernelSources.source(file));
                BytePointer name = new BytePointer(file);
                PointerPointer<?> headerTexts = new PointerPointer<>(headerSources);
                PointerPointer<?> headerNames = new PointerPointer<>(headers.toArray(String[]::new))) {
            CudaCalls.checkNvrtc(nvrtc.nvrtcCreateProgram(program, source, name, headers.size(), headerTexts, headerNames),
                    "nvrtcCreateProgram(" + file + ")");
        }
        try {
            String[] options = {"--gpu-architecture=" + architecture, "--std=c++17"};
            int status;
            try (PointerPointer<?> optionTexts = new PointerPointer<>(options)) {
                status = nvrtc.nvrtcCompileProgram(program, options.length, optionTexts);
            }
            if (status != nvrtc.NVRTC_SUCCESS) {
                throw new CudaException("NVRTC could not compile " + file + " for " + architecture + ":\n" + log(program));
            }
            try (SizeTPointer size = new SizeTPointer(1)) {
                CudaCalls.checkNvrtc(nvrtc.nvrtcGetCUBINSize(program, size), "nvrtcGetCUBINSize");
                byte[] cubin = new byte[Math.toIntExact(size.get())];
                CudaCalls.checkNvrtc(nvrtc.nvrtcGetCUBIN(program, cubin), "nvrtcGetCUBIN");
                return cubin;
            }
        } finally {
            nvrtc.nvrtcDestroyProgram(program);
        }
    }

    private static String log(_nvrtcProgram program) {
        try (SizeTPointer size = new SizeTPointer(1)) {
            nvrtc.nvrtcGetProgramLogSize(program, size);
            byte[] text = new byte[Math.toIntExact(size.get())];
            nvrtc.nvrtcGetProgramLog(program, text);
            return new String(text, 0, Math.max(0, text.length - 1), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** A one-dimensional launch of {@code threads} per block covering {@code n} elements with a grid-stride loop. */
    void launchElementwise(String kernel, long n, Object... arguments) {
        if (n == 0) {
            return;
        }
        int threads = 256;
        int blocks = (int) Math.min((n + threads - 1) / threads, 16384);
        launch(kernel, blocks, 1, 1, threads, 1, arguments);
    }

    /**
     * A launch over a {@code [rows, width]} matrix for the kernels that walk rows ({@code rows.cuh}): a row to as
     * many threads as it has columns, up to a block of 256, and enough blocks for the rows, at most 65536 (the
     * kernels loop over the rest).
     */
    void launchRows(String kernel, long rows, int width, Object... arguments) {
        if (rows == 0 || width == 0) {
            return;
        }
        int threads = 256;
        int rowsPerBlock = threads / Math.min(width, threads);
        int blocks = (int) Math.min((rows + rowsPerBlock - 1) / rowsPerBlock, 65536);
        launch(kernel, blocks, 1, 1, threads, 1, arguments);
    }

    /**
     * Launches {@code kernel} on the backend's stream. Arguments are passed by value as the kernel declares them:
     * a {@link Long} as {@code long long} or a device address, an {@link Integer} as {@code int}, a {@link Float}
     * as {@code float}. The driver copies them at the launch, so one block of argument slots serves every launch.
     */
    synchronized void launch(String kernel, int gridX, int gridY, int gridZ, int blockX, int blockY, Object... arguments) {
        CUfunc_st function = functions.get(kernel);
        if (function == null) {
            throw new IllegalArgumentException("no kernel " + kernel + " in " + KernelSources.KERNELS.keySet());
        }
        if (arguments.length > MAX_ARGUMENTS) {
            throw new IllegalArgumentException(kernel + " is launched with " + arguments.length + " arguments, at most "
                    + MAX_ARGUMENTS);
        }
        for (int i = 0; i < arguments.length; i++) {
            switch (arguments[i]) {
                case Long l -> argumentSlots.set(ValueLayout.JAVA_LONG, 8L * i, l);
                case Integer n -> argumentSlots.set(ValueLayout.JAVA_INT, 8L * i, n);
                case Float f -> argumentSlots.set(ValueLayout.JAVA_FLOAT, 8L * i, f);
                default -> throw new IllegalArgumentException("kernel argument " + i + " of " + kernel + " is a "
                        + arguments[i].getClass().getSimpleName() + ", not a Long, Integer or Float");
            }
        }
        CudaCalls.checkDriver(cudart.cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, 1, 0, stream,
                argumentPointers, (PointerPointer<?>) null), "cuLaunchKernel(" + kernel + ")");
    }

    @Override
    public void close() {
        for (CUmod_st module : modules) {
            cudart.cuModuleUnload(module);
        }
        modules.clear();
        functions.clear();
        argumentPointers.close();
        arena.close();
    }
}
