// Normalisations of the CUDA backend, compiled at run time by NVRTC. Statistics are summed in F32 as on the CPU:
// first the mean, then the mean of squared deviations (two passes over the data). Launched with 256 threads.

#include "rows.cuh"

#define THREADS 256

// The sum of `value` over the block, returned to every thread. `scratch` holds THREADS / 32 floats.
__device__ float block_sum(float value, float* scratch) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    }
    int warp = threadIdx.x / 32;
    __syncthreads(); // scratch may still be read by an earlier call
    if ((threadIdx.x & 31) == 0) {
        scratch[warp] = value;
    }
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < THREADS / 32; w++) {
        total += scratch[w];
    }
    return total;
}

__device__ float block_max(float value, float* scratch) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
    }
    int warp = threadIdx.x / 32;
    __syncthreads();
    if ((threadIdx.x & 31) == 0) {
        scratch[warp] = value;
    }
    __syncthreads();
    float best = scratch[0];
    for (int w = 1; w < THREADS / 32; w++) {
        best = fmaxf(best, scratch[w]);
    }
    return best;
}

__device__ __forceinline__ float warp_sum(float value) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    }
    return value;
}

// Layer norm over the last dimension: one warp per row of x [rows, width], THREADS / 32 rows to a block, so the
// sums need no barrier; the row's second and third reads come from the L1 cache.
extern "C" __global__ void layer_norm_f32(const float* x, const float* gamma, const float* beta, float eps, float* out,
        int width, long long rows) {
    int lane = threadIdx.x % 32;
    int warps = blockDim.x / 32;
    for (long long r = (long long) blockIdx.x * warps + threadIdx.x / 32; r < rows; r += (long long) gridDim.x * warps) {
        const float* row = x + r * width;
        float* to = out + r * width;
        float sum = 0.0f;
        for (int j = lane; j < width; j += 32) {
            sum += row[j];
        }
        float mean = warp_sum(sum) / width;
        float squares = 0.0f;
        for (int j = lane; j < width; j += 32) {
            float d = row[j] - mean;
            squares += d * d;
        }
        float inverse = rsqrtf(warp_sum(squares) / width + eps);
        for (int j = lane; j < width; j += 32) {
            to[j] = (row[j] - mean) * inverse * gamma[j] + beta[j];
        }
    }
}

// Group norm of channels-last x [batch, positions, channels] in `groups` groups of consecutive channels, in four
// launches so that every SM has work whatever the number of groups: the positions of each item are cut into
// `slices`, one block per (slice, item) sums every channel over its positions (a thread per channel, so that a
// warp reads consecutive channels of one position) and then each group's channels in order; the second pass does
// the same with the squared deviations from the group's mean; a warp per (group, item) turns the partial sums into
// the mean (group_norm_reduce), then into 1 / sqrt(variance + eps) and each channel's mean and scale (the inverse
// deviation times gamma: group_norm_finish); the last pass normalises every element, four channels at a time where
// they come in fours, with the affine and SiLU.
// Deterministic: every sum is taken in a fixed order. Channels at most MAX_CHANNELS (SD's widest is 2560).

#define MAX_CHANNELS 4096

// The sum over this block's positions of each channel (or of its squared deviation from its group's mean, when
// means is given), reduced per group into partial[(item * groups + g) * slices + slice].
__device__ void group_partial(const float* x, const float* means, float* partial, long long positions, int channels,
        int groups, int slices) {
    __shared__ float channelSums[MAX_CHANNELS];
    int slice = blockIdx.x;
    int item = blockIdx.y;
    int width = channels / groups;
    long long first = positions * slice / slices;
    long long last = positions * (slice + 1) / slices;
    const float* base = x + (long long) item * positions * channels;
    for (int c = threadIdx.x; c < channels; c += THREADS) {
        float mean = means == 0 ? 0.0f : means[item * groups + c / width];
        float sum = 0.0f;
        for (long long p = first; p < last; p++) {
            float v = base[p * channels + c];
            sum += means == 0 ? v : (v - mean) * (v - mean);
        }
        channelSums[c] = sum;
    }
    __syncthreads();
    for (int g = threadIdx.x; g < groups; g += THREADS) {
        float sum = 0.0f;
        for (int c = g * width; c < (g + 1) * width; c++) {
            sum += channelSums[c];
        }
        partial[((long long) item * groups + g) * slices + slice] = sum;
    }
}

// Grid (slices, batch).
extern "C" __global__ void group_norm_sums(const float* x, float* partial, long long positions, int channels, int groups,
        int slices) {
    group_partial(x, 0, partial, positions, channels, groups, slices);
}

// Grid (slices, batch); means[item * groups + g] from group_norm_mean.
extern "C" __global__ void group_norm_squares(const float* x, const float* means, float* partial, long long positions,
        int channels, int groups, int slices) {
    group_partial(x, means, partial, positions, channels, groups, slices);
}

// The partial sums of group-item i (i = item * groups + g) added in order by one warp (lane-strided, then a fixed
// tree), over `divisor`, the elements of a group. Launched with THREADS threads per block: a warp per i.
__device__ __forceinline__ float group_total(const float* partial, int i, int slices, float divisor) {
    float sum = 0.0f;
    for (int s = threadIdx.x % 32; s < slices; s += 32) {
        sum += partial[(long long) i * slices + s];
    }
    return warp_sum(sum) / divisor;
}

extern "C" __global__ void group_norm_reduce(const float* partial, float* means, int count, int slices, float divisor) {
    int i = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (i < count) {
        float mean = group_total(partial, i, slices, divisor);
        if (threadIdx.x % 32 == 0) {
            means[i] = mean;
        }
    }
}

// The variance's partial sums into each channel's mean and scale, [item, channel]: the apply pass then needs no
// division to find a channel's group.
extern "C" __global__ void group_norm_finish(const float* partial, const float* means, const float* gamma,
        float* channelMeans, float* channelScales, int count, int slices, float divisor, float eps, int channels,
        int groups) {
    int i = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (i < count) {
        float inverse = rsqrtf(group_total(partial, i, slices, divisor) + eps);
        int width = channels / groups;
        int item = i / groups;
        int first = (i % groups) * width;
        for (int c = first + threadIdx.x % 32; c < first + width; c += 32) {
            channelMeans[item * channels + c] = means[i];
            channelScales[item * channels + c] = inverse * gamma[c];
        }
    }
}

__device__ __forceinline__ float normalised(float x, float mean, float scale, float beta, int silu) {
    float y = (x - mean) * scale + beta;
    return silu ? y / (1.0f + expf(-y)) : y;
}

// Every element of x [batch * positions, channels] normalised with its channel's mean and scale, then beta and, if
// asked, SiLU. With fours = 1 (channels a multiple of 4, the tensors 16-byte aligned) the threads of a row walk
// its channels four at a time.
extern "C" __global__ void group_norm_apply(const float* x, const float* channelMeans, const float* channelScales,
        const float* beta, int silu, float* out, long long positions, int channels, long long rows, int fours) {
    if (fours) {
        for_each_row_column(rows, channels / 4, [&](long long row, int quad) {
            long long item = row / positions;
            float4 v = reinterpret_cast<const float4*>(x + row * channels)[quad];
            float4 m = reinterpret_cast<const float4*>(channelMeans + item * channels)[quad];
            float4 s = reinterpret_cast<const float4*>(channelScales + item * channels)[quad];
            float4 b = reinterpret_cast<const float4*>(beta)[quad];
            reinterpret_cast<float4*>(out + row * channels)[quad] = make_float4(normalised(v.x, m.x, s.x, b.x, silu),
                    normalised(v.y, m.y, s.y, b.y, silu), normalised(v.z, m.z, s.z, b.z, silu),
                    normalised(v.w, m.w, s.w, b.w, silu));
        });
    } else {
        for_each_row_column(rows, channels, [&](long long row, int c) {
            long long at = (row / positions) * channels + c;
            out[row * channels + c] = normalised(x[row * channels + c], channelMeans[at], channelScales[at], beta[c], silu);
        });
    }
}

// Softmax over the last dimension: one block per row of x [rows, width].
extern "C" __global__ void softmax_f32(const float* x, float* out, int width) {
    __shared__ float scratch[THREADS / 32];
    const float* row = x + (long long) blockIdx.x * width;
    float* to = out + (long long) blockIdx.x * width;
    float best = __int_as_float(0xff800000); // -infinity, without the headers NVRTC lacks
    for (int j = threadIdx.x; j < width; j += THREADS) {
        best = fmaxf(best, row[j]);
    }
    best = block_max(best, scratch);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < width; j += THREADS) {
        sum += expf(row[j] - best);
    }
    float inverse = 1.0f / block_sum(sum, scratch);
    for (int j = threadIdx.x; j < width; j += THREADS) {
        to[j] = expf(row[j] - best) * inverse;
    }
}
