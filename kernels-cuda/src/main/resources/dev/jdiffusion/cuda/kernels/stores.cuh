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

// Eight consecutive values in one or two 16-byte stores; `to` is 16-byte aligned (32-byte for F32).
__device__ __forceinline__ void store8(float* to, const float* v) {
    reinterpret_cast<float4*>(to)[0] = make_float4(v[0], v[1], v[2], v[3]);
    reinterpret_cast<float4*>(to)[1] = make_float4(v[4], v[5], v[6], v[7]);
}

__device__ __forceinline__ unsigned pack_f16x2(float lo, float hi) {
    unsigned packed;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(hi), "f"(lo));
    return packed;
}

__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {
    unsigned packed;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(hi), "f"(lo));
    return packed;
}

__device__ __forceinline__ void store8(Half* to, const float* v) {
    *reinterpret_cast<uint4*>(to) = make_uint4(pack_f16x2(v[0], v[1]), pack_f16x2(v[2], v[3]), pack_f16x2(v[4], v[5]),
            pack_f16x2(v[6], v[7]));
}

__device__ __forceinline__ void store8(BHalf* to, const float* v) {
    *reinterpret_cast<uint4*>(to) = make_uint4(pack_bf16x2(v[0], v[1]), pack_bf16x2(v[2], v[3]), pack_bf16x2(v[4], v[5]),
            pack_bf16x2(v[6], v[7]));
}
