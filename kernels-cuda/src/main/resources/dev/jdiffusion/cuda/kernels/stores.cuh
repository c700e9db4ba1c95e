// Writing an F32 value as the element type of a product's operand: F32, or rounded to nearest even to IEEE half
// or bfloat16 through the PTX conversions (no CUDA headers: NVRTC compiles without an include path). The 16-bit
// types are distinct structs so that each gets its own overload.
#pragma once

struct Half {
    unsigned short bits;
};

struct BHalf {
    unsigned short bits;
};

__device__ __forceinline__ void store(float* to, float value) {
    *to = value;
}

__device__ __forceinline__ void store(Half* to, float value) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(value));
    to->bits = h;
}

__device__ __forceinline__ void store(BHalf* to, float value) {
    unsigned short h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(value));
    to->bits = h;
}
