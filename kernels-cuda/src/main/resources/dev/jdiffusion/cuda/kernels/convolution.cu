// Patch gathering (im2col) for convolutions as matrix products, compiled at run time by NVRTC. The input is
// channels-last [batch, height, width, channels]; row p of the patch matrix is output pixel firstRow + p, its
// columns run over (ky, kx, c) with c fastest, the order the backend lays the weight out in. Outside the padded
// input the patch holds zeros. The patches are written in the type of the weight (F32, F16 or BF16) for cuBLAS.
//
// The threads of a row walk its channels (rows.cuh) and each thread copies its channel from every tap, so that a
// warp reads and writes consecutive channels of one tap and nothing is divided per element. Where the channels
// come in eights (all of Stable Diffusion's but the 3 or 4 of an image or a latent) and x is 16-byte aligned, the
// caller passes eights = 1 and a thread moves eight of them at once: two 16-byte loads and one 16-byte store of
// 16-bit values (two of F32).
#include "rows.cuh"
#include "stores.cuh"

template <typename Out>
__device__ void gather_patches(const float* x, Out* out, int height, int width, int channels, int kernelHeight,
        int kernelWidth, int stride, int padTop, int padLeft, int outHeight, int outWidth, long long firstRow,
        long long rows, int eights) {
    long long columns = (long long) kernelHeight * kernelWidth * channels;
    for_each_row_column(rows, eights ? channels / 8 : channels, [&](long long row, int lane) {
        long long pixel = firstRow + row;
        int ox = (int) (pixel % outWidth);
        long long rest = pixel / outWidth;
        int oy = (int) (rest % outHeight);
        long long b = rest / outHeight;
        Out* patch = out + row * columns;
        for (int ky = 0; ky < kernelHeight; ky++) {
            int iy = oy * stride - padTop + ky;
            for (int kx = 0; kx < kernelWidth; kx++) {
                int ix = ox * stride - padLeft + kx;
                bool inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
                const float* source = x + ((b * height + iy) * width + ix) * channels;
                Out* target = patch + (ky * kernelWidth + kx) * channels;
                if (eights) {
                    float v[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
                    if (inside) {
                        float4 lo = reinterpret_cast<const float4*>(source)[2 * lane];
                        float4 hi = reinterpret_cast<const float4*>(source)[2 * lane + 1];
                        v[0] = lo.x; v[1] = lo.y; v[2] = lo.z; v[3] = lo.w;
                        v[4] = hi.x; v[5] = hi.y; v[6] = hi.z; v[7] = hi.w;
                    }
                    store8(target + 8 * lane, v);
                } else {
                    store(target + lane, inside ? source[lane] : 0.0f);
                }
            }
        }
    });
}

extern "C" __global__ void patches_f32(const float* x, float* out, int height, int width, int channels, int kernelHeight,
        int kernelWidth, int stride, int padTop, int padLeft, int outHeight, int outWidth, long long firstRow, long long rows,
        int eights) {
    gather_patches(x, out, height, width, channels, kernelHeight, kernelWidth, stride, padTop, padLeft, outHeight, outWidth,
            firstRow, rows, eights);
}

extern "C" __global__ void patches_f16(const float* x, Half* out, int height, int width, int channels, int kernelHeight,
        int kernelWidth, int stride, int padTop, int padLeft, int outHeight, int outWidth, long long firstRow, long long rows,
        int eights) {
    gather_patches(x, out, height, width, channels, kernelHeight, kernelWidth, stride, padTop, padLeft, outHeight, outWidth,
            firstRow, rows, eights);
}

extern "C" __global__ void patches_bf16(const float* x, BHalf* out, int height, int width, int channels, int kernelHeight,
        int kernelWidth, int stride, int padTop, int padLeft, int outHeight, int outWidth, long long firstRow, long long rows,
        int eights) {
    gather_patches(x, out, height, width, channels, kernelHeight, kernelWidth, stride, padTop, padLeft, outHeight, outWidth,
            firstRow, rows, eights);
}
