// Fused ("flash") attention on the tensor cores, compiled at run time by NVRTC, for a backend whose weights are
// F16 or BF16. One block takes 64 queries of one head of one item (16 per warp) and walks the keys in tiles of
// 64: the scores of a tile stay in registers, the softmax is kept online (a running maximum and sum per query,
// the output rescaled whenever the maximum grows), and the probabilities multiply the values straight from the
// registers that hold them. No score ever goes to memory, so memory is O(tokens x head width).
//
// q is the F32 activation [items, queries, width], head h in columns h * headDim ..., rounded to the 16-bit type
// as it is loaded into registers. Keys and values are first packed by flash_operand into [items, heads, tiles of
// 64 keys, DP] of the 16-bit type, the head padded with zeros to DP (a multiple of 16, the products' depth) and the
// keys to whole tiles, so that a tile is one contiguous block that cp.async copies into shared memory while the
// tile before it is computed (two stages where they fit in the 48 KB of static shared memory: DP up to 80). The
// probabilities are rounded before they weigh the values, as the unfused path does; sums are F32.
//
// Products are mma.sync m16n8k16 with F32 accumulators. Fragment layouts (PTX ISA, "Matrix Fragments for
// mma.m16n8k16"): lane = 4 * group + pair; A's registers hold rows group and group + 8, columns 2 * pair (+1)
// and 8 + 2 * pair (+1); B's hold column group, rows 2 * pair (+1) and 8 + 2 * pair (+1); C's hold rows group and
// group + 8, columns 2 * pair (+1). A C fragment of scores is therefore already half of the A fragment the next
// product needs, once rounded.
#include "rows.cuh"
#include "stores.cuh"

#define QUERY_ROWS 64
#define KEY_TILE 64
#define THREADS 128

__device__ __forceinline__ float negative_infinity() {
    return __int_as_float(0xff800000);
}

// Two F32 values rounded to nearest even into one register of two 16-bit values of the kernel's type (stores.cuh).
template <bool BF16>
__device__ __forceinline__ unsigned pack(float lo, float hi) {
    return BF16 ? pack_bf16x2(lo, hi) : pack_f16x2(lo, hi);
}

__device__ __forceinline__ unsigned shared_address(const void* pointer) {
    unsigned address;
    asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(address) : "l"(pointer));
    return address;
}

// d += a b for one 16 x 8 x 16 step.
template <bool BF16>
__device__ __forceinline__ void mma(float* d, const unsigned* a, unsigned b0, unsigned b1) {
    if (BF16) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

// The B fragment of a 16 x 8 block of a row-major [key][dim] tile, transposed on the way (ldmatrix .trans):
// lanes 0-15 name the 16 rows' addresses.
__device__ __forceinline__ void load_transposed(const unsigned* row, unsigned& b0, unsigned& b1) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];" : "=r"(b0), "=r"(b1)
            : "r"(shared_address(row)) : "memory");
}

__device__ __forceinline__ float element(const float* rows, int row, int rowCount, int column, int columnCount, int width) {
    return row < rowCount && column < columnCount ? rows[(long long) row * width + column] : 0.0f;
}

// Keys or values x [items, tokens, heads * headDim] (F32) -> out [items, heads, paddedTokens, paddedDim] rounded to
// Out, zeros in the padding. One row per (item, head, token); a thread writes eight values (16 bytes).
template <typename Out>
__device__ void flash_operand(const float* x, Out* out, int tokens, int paddedTokens, int heads, int headDim,
        int paddedDim, long long rows) {
    for_each_row_column(rows, paddedDim / 8, [&](long long row, int lane) {
        int token = (int) (row % paddedTokens);
        long long itemHead = row / paddedTokens;
        int head = (int) (itemHead % heads);
        long long item = itemHead / heads;
        const float* source = x + (item * tokens + token) * heads * headDim + (long long) head * headDim;
        float v[8];
#pragma unroll
        for (int e = 0; e < 8; e++) {
            int d = 8 * lane + e;
            v[e] = token < tokens && d < headDim ? source[d] : 0.0f;
        }
        store8(out + row * paddedDim + 8 * lane, v);
    });
}

template <int DP, bool BF16>
__device__ __forceinline__ void flash_attention(const float* __restrict__ q, const unsigned short* __restrict__ k,
        const unsigned short* __restrict__ v, float* __restrict__ out, int queries, int keys, int headDim, int width,
        float scaleLog2, int causal) {
    // Rows of the shared tiles, in 32-bit words: 4 more than the head, which spreads a fragment's reads and
    // ldmatrix's row addresses over all the banks (DP / 16 is whole, so the stride is an odd number of 16 bytes).
    constexpr int ROW_WORDS = DP / 2 + 4;
    constexpr int CHUNKS = DP / 16;
    constexpr int DIM_TILES = DP / 8;
    constexpr int KEY_TILES = KEY_TILE / 8;
    constexpr int TILE_WORDS = KEY_TILE * ROW_WORDS;
    constexpr int STAGES = 2 * 2 * TILE_WORDS * 4 <= 48 * 1024 ? 2 : 1;
    __shared__ __align__(16) unsigned keyTiles[STAGES * TILE_WORDS];
    __shared__ __align__(16) unsigned valueTiles[STAGES * TILE_WORDS];

    int warp = threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    int group = lane / 4;
    int pair = lane % 4;
    int heads = gridDim.y;
    int paddedKeys = (keys + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
    long long headOffset = (long long) blockIdx.y * headDim;
    const float* qHead = q + (long long) blockIdx.z * queries * width + headOffset;
    long long packedHead = ((long long) blockIdx.z * heads + blockIdx.y) * paddedKeys * DP;
    const unsigned short* kHead = k + packedHead;
    const unsigned short* vHead = v + packedHead;
    int firstQuery = blockIdx.x * QUERY_ROWS;
    int row[2] = {firstQuery + warp * 16 + group, firstQuery + warp * 16 + group + 8};

    // Tile `tile` (its first key) into stage `stage`: 16-byte asynchronous copies, KEY_TILE * DP / 8 per operand.
    auto load = [&](int tile, int stage) {
        for (int i = threadIdx.x; i < KEY_TILE * DP / 8; i += THREADS) {
            int r = i / (DP / 8);
            int chunk = i % (DP / 8);
            long long from = (long long) (tile + r) * DP + chunk * 8;
            int to = stage * TILE_WORDS + r * ROW_WORDS + chunk * 4;
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(shared_address(keyTiles + to)), "l"(kHead + from) : "memory");
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(shared_address(valueTiles + to)), "l"(vHead + from) : "memory");
        }
        asm volatile("cp.async.commit_group;" ::: "memory");
    };

    unsigned queryFragments[CHUNKS][4];
#pragma unroll
    for (int c = 0; c < CHUNKS; c++) {
        int d = c * 16 + pair * 2;
#pragma unroll
        for (int half = 0; half < 4; half++) {
            int r = row[half & 1];
            int column = d + (half >> 1) * 8;
            queryFragments[c][half] = pack<BF16>(element(qHead, r, queries, column, headDim, width),
                    element(qHead, r, queries, column + 1, headDim, width));
        }
    }

    float output[DIM_TILES][4];
#pragma unroll
    for (int t = 0; t < DIM_TILES; t++) {
        output[t][0] = output[t][1] = output[t][2] = output[t][3] = 0.0f;
    }
    float runningMax[2] = {negative_infinity(), negative_infinity()};
    float runningSum[2] = {0.0f, 0.0f};
    // With causal masking no query of this block sees a key past its last query.
    int keyEnd = causal ? min(keys, firstQuery + QUERY_ROWS) : keys;

    load(0, 0);
    for (int tile = 0, index = 0; tile < keyEnd; tile += KEY_TILE, index++) {
        if (STAGES == 2) {
            if (tile + KEY_TILE < keyEnd) {
                load(tile + KEY_TILE, (index + 1) % 2); // the next tile copies while this one is computed
            } else {
                asm volatile("cp.async.commit_group;" ::: "memory"); // an empty group keeps the count below right
            }
            asm volatile("cp.async.wait_group 1;" ::: "memory");
        } else {
            asm volatile("cp.async.wait_group 0;" ::: "memory");
        }
        __syncthreads(); // every thread's copies of this tile have landed
        const unsigned* keyTile = keyTiles + (index % STAGES) * TILE_WORDS;
        const unsigned* valueTile = valueTiles + (index % STAGES) * TILE_WORDS;

        float scores[KEY_TILES][4];
#pragma unroll
        for (int n = 0; n < KEY_TILES; n++) {
            scores[n][0] = scores[n][1] = scores[n][2] = scores[n][3] = 0.0f;
            const unsigned* keyRow = keyTile + (n * 8 + group) * ROW_WORDS + pair;
#pragma unroll
            for (int c = 0; c < CHUNKS; c++) {
                mma<BF16>(scores[n], queryFragments[c], keyRow[c * 8], keyRow[c * 8 + 4]);
            }
        }

#pragma unroll
        for (int r = 0; r < 2; r++) {
            float tileMax = negative_infinity();
#pragma unroll
            for (int n = 0; n < KEY_TILES; n++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    int key = tile + n * 8 + pair * 2 + e;
                    bool seen = key < keys && (!causal || key <= row[r]);
                    float s = seen ? scores[n][2 * r + e] * scaleLog2 : negative_infinity();
                    scores[n][2 * r + e] = s;
                    tileMax = fmaxf(tileMax, s);
                }
            }
            tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 1));
            tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 2));
            float newMax = fmaxf(runningMax[r], tileMax);
            float base = newMax == negative_infinity() ? 0.0f : newMax; // no key seen yet: every weight is 0
            float correction = exp2f(runningMax[r] - base);
            runningMax[r] = newMax;
            runningSum[r] *= correction;
#pragma unroll
            for (int t = 0; t < DIM_TILES; t++) {
                output[t][2 * r] *= correction;
                output[t][2 * r + 1] *= correction;
            }
#pragma unroll
            for (int n = 0; n < KEY_TILES; n++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    float p = exp2f(scores[n][2 * r + e] - base);
                    scores[n][2 * r + e] = p;
                    runningSum[r] += p;
                }
            }
        }

#pragma unroll
        for (int j = 0; j < KEY_TILE / 16; j++) {
            unsigned probabilities[4] = {pack<BF16>(scores[2 * j][0], scores[2 * j][1]),
                    pack<BF16>(scores[2 * j][2], scores[2 * j][3]), pack<BF16>(scores[2 * j + 1][0], scores[2 * j + 1][1]),
                    pack<BF16>(scores[2 * j + 1][2], scores[2 * j + 1][3])};
            const unsigned* valueRow = valueTile + (j * 16 + lane % 16) * ROW_WORDS;
#pragma unroll
            for (int t = 0; t < DIM_TILES; t++) {
                unsigned b0, b1;
                load_transposed(valueRow + t * 4, b0, b1);
                mma<BF16>(output[t], probabilities, b0, b1);
            }
        }
        __syncthreads(); // every warp is done with this stage before a copy overwrites it
        if (STAGES == 1 && tile + KEY_TILE < keyEnd) {
            load(tile + KEY_TILE, 0);
        }
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        float sum = runningSum[r];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        if (row[r] >= queries) {
            continue;
        }
        float inverse = 1.0f / sum;
        float* outRow = out + ((long long) blockIdx.z * queries + row[r]) * width + headOffset;
#pragma unroll
        for (int t = 0; t < DIM_TILES; t++) {
            int d = t * 8 + pair * 2;
            if (d < headDim) {
                outRow[d] = output[t][2 * r] * inverse;
            }
            if (d + 1 < headDim) {
                outRow[d + 1] = output[t][2 * r + 1] * inverse;
            }
        }
    }
}

// Launched by KernelLibrary.launchRows over rows (items * heads * paddedTokens) and paddedDim / 8.
extern "C" __global__ void flash_operand_f16(const float* x, Half* out, int tokens, int paddedTokens, int heads, int headDim,
        int paddedDim, long long rows) {
    flash_operand(x, out, tokens, paddedTokens, heads, headDim, paddedDim, rows);
}

extern "C" __global__ void flash_operand_bf16(const float* x, BHalf* out, int tokens, int paddedTokens, int heads,
        int headDim, int paddedDim, long long rows) {
    flash_operand(x, out, tokens, paddedTokens, heads, headDim, paddedDim, rows);
}

// Launched with grid (ceil(queries / 64), heads, items) and THREADS threads; k and v from flash_operand in the
// kernel's type and DP; scaleLog2 is the scale times log2(e).
#define PARAMETERS const float* q, const unsigned short* k, const unsigned short* v, float* out, int queries, int keys, \
    int headDim, int width, float scaleLog2, int causal
#define ARGUMENTS q, k, v, out, queries, keys, headDim, width, scaleLog2, causal

extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_f16_d32(PARAMETERS) { flash_attention<32, false>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_f16_d48(PARAMETERS) { flash_attention<48, false>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_f16_d64(PARAMETERS) { flash_attention<64, false>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_f16_d80(PARAMETERS) { flash_attention<80, false>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_f16_d96(PARAMETERS) { flash_attention<96, false>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_f16_d128(PARAMETERS) { flash_attention<128, false>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_f16_d160(PARAMETERS) { flash_attention<160, false>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_bf16_d32(PARAMETERS) { flash_attention<32, true>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_bf16_d48(PARAMETERS) { flash_attention<48, true>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_bf16_d64(PARAMETERS) { flash_attention<64, true>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_bf16_d80(PARAMETERS) { flash_attention<80, true>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_bf16_d96(PARAMETERS) { flash_attention<96, true>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_bf16_d128(PARAMETERS) { flash_attention<128, true>(ARGUMENTS); }
extern "C" __global__ void __launch_bounds__(THREADS) flash_attention_bf16_d160(PARAMETERS) { flash_attention<160, true>(ARGUMENTS); }
