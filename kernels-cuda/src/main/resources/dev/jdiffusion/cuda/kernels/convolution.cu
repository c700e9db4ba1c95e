// Patch gathering (im2col) for convolutions as matrix products, compiled at run time by NVRTC. The input is
// channels-last [batch, height, width, channels]; row p of the patch matrix is output pixel firstRow + p, its
// columns run over (ky, kx, c) with c fastest, the order the backend lays the weight out in, so that a pixel's
// channels are read and written contiguously. Outside the padded input the patch holds zeros. The patches are
// written in the type of the weight (F32, F16 or BF16) for cuBLAS.
#include "stores.cuh"

template <typename Out>
__device__ void gather_patches(const float* x, Out* out, int height, int width, int channels, int kernelHeight,
        int kernelWidth, int stride, int padTop, int padLeft, int outHeight, int outWidth, long long firstRow,
        long long n) {
    long long columns = (long long) kernelHeight * kernelWidth * channels;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        long long row = i / columns;
        int column = (int) (i - row * columns);
        int c = column % channels;
        int tap = column / channels;
        int kx = tap % kernelWidth;
        int ky = tap / kernelWidth;
        long long pixel = firstRow + row;
        int ox = (int) (pixel % outWidth);
        long long rest = pixel / outWidth;
        int oy = (int) (rest % outHeight);
        long long b = rest / outHeight;
        int iy = oy * stride - padTop + ky;
        int ix = ox * stride - padLeft + kx;
        float value = 0.0f;
        if (iy >= 0 && iy < height && ix >= 0 && ix < width) {
            value = x[((b * height + iy) * width + ix) * channels + c];
        }
        store(out + i, value);
    }
}

extern "C" __global__ void patches_f32(const float* x, float* out, int height, int width, int channels, int kernelHeight,
        int kernelWidth, int stride, int padTop, int padLeft, int outHeight, int outWidth, long long firstRow, long long n) {
    gather_patches(x, out, height, width, channels, kernelHeight, kernelWidth, stride, padTop, padLeft, outHeight, outWidth,
            firstRow, n);
}

extern "C" __global__ void patches_f16(const float* x, Half* out, int height, int width, int channels, int kernelHeight,
        int kernelWidth, int stride, int padTop, int padLeft, int outHeight, int outWidth, long long firstRow, long long n) {
    gather_patches(x, out, height, width, channels, kernelHeight, kernelWidth, stride, padTop, padLeft, outHeight, outWidth,
            firstRow, n);
}

extern "C" __global__ void patches_bf16(const float* x, BHalf* out, int height, int width, int channels, int kernelHeight,
        int kernelWidth, int stride, int padTop, int padLeft, int outHeight, int outWidth, long long firstRow, long long n) {
    gather_patches(x, out, height, width, channels, kernelHeight, kernelWidth, stride, padTop, padLeft, outHeight, outWidth,
            firstRow, n);
}
