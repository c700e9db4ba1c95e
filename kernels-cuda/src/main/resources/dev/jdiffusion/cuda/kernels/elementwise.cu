// Elementwise kernels of the CUDA backend, compiled at run time by NVRTC. Tensors are dense F32, row-major,
// channels-last as on the CPU backend. The plain elementwise kernels are grid-stride loops over `n` elements, so
// any launch size covers any tensor; those that need an element's column walk rows (rows.cuh). NVRTC compiles this
// without an include path: the headers are handed to it by name.
#include "rows.cuh"

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
// .bfloat16()), through the PTX conversions themselves: cuBLAS multiplies two operands of one type.
extern "C" __global__ void f32_to_f16(const float* x, unsigned short* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        unsigned short h;
        asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x[i]));
        out[i] = h;
    }
}

extern "C" __global__ void f32_to_bf16(const float* x, unsigned short* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        unsigned short h;
        asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(x[i]));
        out[i] = h;
    }
}
