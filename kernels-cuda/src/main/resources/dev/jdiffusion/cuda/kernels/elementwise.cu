// Elementwise kernels of the CUDA backend, compiled at run time by NVRTC. Tensors are dense F32, row-major,
// channels-last as on the CPU backend. Every kernel is a grid-stride loop over `n` elements, so any launch
// size covers any tensor. No headers: NVRTC compiles this without an include path.

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
extern "C" __global__ void geglu_f32(const float* x, float* out, int width, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        long long row = i / width;
        int j = (int) (i - row * width);
        const float* in = x + row * 2 * width;
        out[i] = in[j] * gelu(in[width + j]);
    }
}

// x [batch, positions, width] += v [batch, width]: the time embedding added to every pixel of its item.
extern "C" __global__ void add_per_item_f32(float* x, const float* v, long long positions, int width, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        long long item = i / (positions * width);
        x[i] += v[item * width + i % width];
    }
}

// Conversions between F32 and IEEE half (round to nearest even), through the PTX instructions themselves.
extern "C" __global__ void f32_to_f16(const float* x, unsigned short* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        unsigned short h;
        asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x[i]));
        out[i] = h;
    }
}

extern "C" __global__ void f16_to_f32(const unsigned short* x, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        float f;
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x[i]));
        out[i] = f;
    }
}

// bfloat16 is the upper half of a float: widening is a shift.
extern "C" __global__ void bf16_to_f32(const unsigned short* x, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        out[i] = __int_as_float(((int) x[i]) << 16);
    }
}
