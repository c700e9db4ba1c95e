// Elementwise kernels of the CUDA backend, compiled at run time by NVRTC. Tensors are dense F32, row-major,
// channels-last as on the CPU backend. The plain elementwise kernels are grid-stride loops over `n` elements, so
// any launch size covers any tensor; those that need an element's column walk rows (rows.cuh). NVRTC compiles this
// without an include path: the headers are handed to it by name.
#include "rows.cuh"
#include "stores.cuh"

extern "C" __global__ void add_f32(const float* a, const float* b, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = a[i] + b[i];
    }
}

extern "C" __global__ void scale_f32(const float* x, float* out, float factor, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = x[i] * factor;
    }
}

// torch's SiLU, exact GELU (erf) and CLIP's quick GELU, with the same formulas as the CPU kernels.
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }
__device__ __forceinline__ float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
__device__ __forceinline__ float quick_gelu(float x) { return x / (1.0f + expf(-1.702f * x)); }

extern "C" __global__ void silu_f32(const float* x, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = silu(x[i]);
    }
}

extern "C" __global__ void gelu_f32(const float* x, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = gelu(x[i]);
    }
}

extern "C" __global__ void quick_gelu_f32(const float* x, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = quick_gelu(x[i]);
    }
}

// GEGLU: x is [rows, 2 * width]; out[r, j] = x[r, j] * gelu(x[r, width + j]) (diffusers' hidden, gate order).
extern "C" __global__ void geglu_f32(const float* x, float* out, int width, long long rows) {
    for_each_row_column(rows, width, [&](long long row, int j) {
        const float* in = x + row * 2 * width;
        out[row * width + j] = in[j] * gelu(in[width + j]);
    });
}

// x [rows, width] += v [rows / positions, width]: a vector per item added to each of its `positions` rows (the time
// embedding to every pixel of its item; with positions = rows, a bias to every row).
extern "C" __global__ void add_per_item_f32(float* x, const float* v, long long positions, int width, long long rows) {
    for_each_row_column(rows, width, [&](long long row, int j) {
        x[row * width + j] += v[row / positions * width + j];
    });
}

// F32 activations rounded to the 16-bit type of a product's weights (to nearest even, as torch's .half() and
// .bfloat16()), through the PTX conversions themselves: cuBLAS multiplies two operands of one type. Eight values a
// thread (two 16-byte loads, one 16-byte store) where x and out are 16-byte aligned, which they are as blocks of
// the allocator; one at a time for the rest.
template <typename Out>
__device__ void round_to(const float* x, Out* out, long long n) {
    long long start = blockIdx.x * (long long) blockDim.x + threadIdx.x;
    long long step = (long long) gridDim.x * blockDim.x;
    long long vectorized = 0;
    if ((reinterpret_cast<unsigned long long>(x) & 15) == 0 && (reinterpret_cast<unsigned long long>(out) & 15) == 0) {
        vectorized = n / 8 * 8;
        for (long long i = start; i < n / 8; i += step) {
            float4 lo = reinterpret_cast<const float4*>(x)[2 * i];
            float4 hi = reinterpret_cast<const float4*>(x)[2 * i + 1];
            float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
            store8(out + 8 * i, v);
        }
    }
    for (long long i = vectorized + start; i < n; i += step) {
        store(out + i, x[i]);
    }
}

extern "C" __global__ void f32_to_f16(const float* x, Half* out, long long n) {
    round_to(x, out, n);
}

extern "C" __global__ void f32_to_bf16(const float* x, BHalf* out, long long n) {
    round_to(x, out, n);
}
