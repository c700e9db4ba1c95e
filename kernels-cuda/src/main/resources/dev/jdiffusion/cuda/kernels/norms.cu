// Normalisations of the CUDA backend, compiled at run time by NVRTC. One block per normalised group of
// elements; statistics are summed in F32 as on the CPU: first the mean, then the mean of squared deviations
// (two passes over the data, which is in L2 for the sizes of Stable Diffusion). Launched with 256 threads.

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

// Group norm of channels-last x [batch, positions, channels] in `groups` groups of consecutive channels,
// optionally followed by SiLU: one block per (group, item), grid (groups, batch).
extern "C" __global__ void group_norm_f32(const float* x, const float* gamma, const float* beta, float eps, int silu,
        float* out, long long positions, int channels, int groups) {
    __shared__ float scratch[THREADS / 32];
    int width = channels / groups;
    int first = blockIdx.x * width;
    long long item = (long long) blockIdx.y * positions * channels;
    long long count = positions * width;
    float sum = 0.0f;
    for (long long i = threadIdx.x; i < count; i += THREADS) {
        sum += x[item + (i / width) * channels + first + i % width];
    }
    float mean = block_sum(sum, scratch) / count;
    float squares = 0.0f;
    for (long long i = threadIdx.x; i < count; i += THREADS) {
        float d = x[item + (i / width) * channels + first + i % width] - mean;
        squares += d * d;
    }
    float inverse = rsqrtf(block_sum(squares, scratch) / count + eps);
    for (long long i = threadIdx.x; i < count; i += THREADS) {
        int c = first + (int) (i % width);
        long long at = item + (i / width) * channels + c;
        float y = (x[at] - mean) * inverse * gamma[c] + beta[c];
        out[at] = silu ? y / (1.0f + expf(-y)) : y;
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
