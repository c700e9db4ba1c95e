// Layout kernels of the CUDA backend (channels-last tensors), compiled at run time by NVRTC.
#include "rows.cuh"

// [batch, height, width, channels] -> [batch, toHeight, toWidth, channels], nearest neighbour as torch's
// F.interpolate(mode="nearest"): source index floor(dst * in / out). A row is one output pixel's channels.
extern "C" __global__ void upsample_nearest_f32(const float* x, float* out, int height, int width, int channels,
        int toHeight, int toWidth, long long pixels) {
    for_each_row_column(pixels, channels, [&](long long pixel, int c) {
        int ox = (int) (pixel % toWidth);
        long long rowIndex = pixel / toWidth;
        int oy = (int) (rowIndex % toHeight);
        long long b = rowIndex / toHeight;
        int sy = (int) (((long long) oy * height) / toHeight);
        int sx = (int) (((long long) ox * width) / toWidth);
        out[pixel * channels + c] = x[((b * height + sy) * width + sx) * channels + c];
    });
}

// Joins the last dimensions: a [rows, aWidth] and b [rows, bWidth] -> [rows, aWidth + bWidth].
extern "C" __global__ void concat_last_f32(const float* a, const float* b, float* out, int aWidth, int bWidth, long long rows) {
    int width = aWidth + bWidth;
    for_each_row_column(rows, width, [&](long long row, int j) {
        out[row * width + j] = j < aWidth ? a[row * aWidth + j] : b[row * bWidth + (j - aWidth)];
    });
}

// Columns [from, from + length) of x [rows, width].
extern "C" __global__ void narrow_last_f32(const float* x, float* out, int width, int from, int length, long long rows) {
    for_each_row_column(rows, length, [&](long long row, int j) {
        out[row * length + j] = x[row * width + from + j];
    });
}

// [batch, rows, columns] -> [batch, columns, rows] through 32x32 shared-memory tiles (coalesced both ways);
// launched with blockDim (32, 8) and grid (ceil(columns / 32), ceil(rows / 32), batch).
extern "C" __global__ void transpose_f32(const float* x, float* out, int rows, int columns) {
    __shared__ float tile[32][33]; // one column of padding: no bank conflicts on the transposed read
    long long plane = (long long) rows * columns;
    const float* in = x + blockIdx.z * plane;
    float* to = out + blockIdx.z * plane;
    int c = blockIdx.x * 32 + threadIdx.x;
    for (int k = threadIdx.y; k < 32; k += 8) {
        int r = blockIdx.y * 32 + k;
        if (r < rows && c < columns) {
            tile[k][threadIdx.x] = in[(long long) r * columns + c];
        }
    }
    __syncthreads();
    int r = blockIdx.y * 32 + threadIdx.x;
    for (int k = threadIdx.y; k < 32; k += 8) {
        int cc = blockIdx.x * 32 + k;
        if (r < rows && cc < columns) {
            to[(long long) cc * rows + r] = tile[threadIdx.x][k];
        }
    }
}
