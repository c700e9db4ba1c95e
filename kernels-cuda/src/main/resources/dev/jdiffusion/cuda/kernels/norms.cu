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

// Layer norm over the last dimension: one block per row of x [rows, width].
extern "C" __global__ void layer_norm_f32(const float* x, const float* gamma, const float* beta, float eps, float* out,
        int width) {
    __shared__ float scratch[THREADS / 32];
    const float* row = x + (long long) blockIdx.x * width;
    float* to = out + (long long) blockIdx.x * width;
    float sum = 0.0f;
    for (int j = threadIdx.x; j < width; j += THREADS) {
        sum += row[j];
    }
    float mean = block_sum(sum, scratch) / width;
    float squares = 0.0f;
    for (int j = threadIdx.x; j < width; j += THREADS) {
        float d = row[j] - mean;
        squares += d * d;
    }
    float inverse = rsqrtf(block_sum(squares, scratch) / width + eps);
    for (int j = threadIdx.x; j < width; j += THREADS) {
        to[j] = (row[j] - mean) * inverse * gamma[j] + beta[j];
    }
}

// Group norm of channels-last x [batch, positions, channels] in `groups` groups of consecutive channels, in four
// launches so that every SM has work whatever the number of groups: the positions of each item are cut into
// `slices`, one block per (slice, item) sums every channel over its positions (a thread per channel, so that a
// warp reads consecutive channels of one position) and then each group's channels in order; the second pass does
// the same with the squared deviations from the group's mean; one thread per (group, item) turns the sums into
// the mean and 1 / sqrt(variance + eps); the last pass normalises every element, with the affine and SiLU.
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

// One thread per (group, item): out[i] = the partial sums of group-item i added in order, over `divisor` (the
// elements of a group), then (when eps >= 0) turned into 1 / sqrt(value + eps).
extern "C" __global__ void group_norm_reduce(const float* partial, float* out, int count, int slices, float divisor,
        float eps) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) {
        float sum = 0.0f;
        for (int s = 0; s < slices; s++) {
            sum += partial[(long long) i * slices + s];
        }
        float value = sum / divisor;
        out[i] = eps >= 0.0f ? rsqrtf(value + eps) : value;
    }
}

// Every element of x [batch * positions, channels] normalised with its group's mean and inverse deviation, then
// the affine and, if asked, SiLU.
extern "C" __global__ void group_norm_apply(const float* x, const float* means, const float* inverses,
        const float* gamma, const float* beta, int silu, float* out, long long positions, int channels, int groups,
        long long rows) {
    int width = channels / groups;
    for_each_row_column(rows, channels, [&](long long row, int c) {
        int g = (int) (row / positions) * groups + c / width;
        long long i = row * channels + c;
        float y = (x[i] - means[g]) * inverses[g] * gamma[c] + beta[c];
        out[i] = silu ? y / (1.0f + expf(-y)) : y;
    });
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
