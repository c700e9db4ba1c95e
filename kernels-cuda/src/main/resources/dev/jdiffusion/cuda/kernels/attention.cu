// The softmax step of attention, compiled at run time by NVRTC. cuBLAS writes the scaled scores of a chunk of
// queries for every head, [heads * queries, keys] in F32; each block turns one row into probabilities, written
// in the type of the product with the values that follows (F32 in place, or F16 / BF16 into another buffer).
// With causal masking, query firstQuery + (row mod queries) sees only the keys up to itself; the others get 0.
// Launched with THREADS threads, one block per row.
#include "stores.cuh"

#define THREADS 256

__device__ float reduce_block(float value, float* scratch, bool maximum) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        float other = __shfl_xor_sync(0xffffffffu, value, offset);
        value = maximum ? fmaxf(value, other) : value + other;
    }
    __syncthreads(); // scratch may still be read by an earlier call
    if ((threadIdx.x & 31) == 0) {
        scratch[threadIdx.x / 32] = value;
    }
    __syncthreads();
    float result = scratch[0];
    for (int w = 1; w < THREADS / 32; w++) {
        result = maximum ? fmaxf(result, scratch[w]) : result + scratch[w];
    }
    return result;
}

template <typename Out>
__device__ void score_softmax(const float* scores, Out* out, int keys, int queries, int firstQuery, int causal) {
    __shared__ float scratch[THREADS / 32];
    long long at = (long long) blockIdx.x * keys;
    int query = firstQuery + (int) (blockIdx.x % queries);
    int seen = causal ? min(keys, query + 1) : keys;
    float best = __int_as_float(0xff800000); // -infinity
    for (int j = threadIdx.x; j < seen; j += THREADS) {
        best = fmaxf(best, scores[at + j]);
    }
    best = reduce_block(best, scratch, true);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < seen; j += THREADS) {
        sum += expf(scores[at + j] - best);
    }
    float inverse = 1.0f / reduce_block(sum, scratch, false);
    for (int j = threadIdx.x; j < keys; j += THREADS) {
        store(out + at + j, j < seen ? expf(scores[at + j] - best) * inverse : 0.0f);
    }
}

extern "C" __global__ void score_softmax_f32(const float* scores, float* out, int keys, int queries, int firstQuery, int causal) {
    score_softmax(scores, out, keys, queries, firstQuery, causal);
}

extern "C" __global__ void score_softmax_f16(const float* scores, Half* out, int keys, int queries, int firstQuery, int causal) {
    score_softmax(scores, out, keys, queries, firstQuery, causal);
}

extern "C" __global__ void score_softmax_bf16(const float* scores, BHalf* out, int keys, int queries, int firstQuery, int causal) {
    score_softmax(scores, out, keys, queries, firstQuery, causal);
}
