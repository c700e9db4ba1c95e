// Multi-head attention, flash-style (softmax(scale q k^T) v without the score matrix), compiled at run time by
// NVRTC. q [batch, queries, heads * headDim], k and v [batch, keys, heads * headDim], heads interleaved in the
// last dimension as the projections write them; out like q. F32 throughout, scores accumulated in F32.
//
// Grid (ceil(queries / QUERIES_PER_BLOCK), heads, batch), blockDim 128 (4 warps). The block walks the keys in
// tiles of 32 held in shared memory; each warp owns QUERIES_PER_WARP queries: lane j scores key j of the tile
// (a dot product over headDim from shared memory), the warp takes the tile's max and sum with shuffles (the
// online softmax of FlashAttention), and for the weighted sum of values each lane owns the output dimensions
// d = lane, lane + 32, ... Memory: O(tile x headDim) per block, whatever the sequence length.

#define WARPS 4
#define QUERIES_PER_WARP 2
#define QUERIES_PER_BLOCK (WARPS * QUERIES_PER_WARP)
#define KEY_TILE 32
#define MAX_HEAD_DIM 160
#define DIMS_PER_LANE (MAX_HEAD_DIM / 32)

extern "C" __global__ void attention_f32(const float* q, const float* k, const float* v, float* out, int queries, int keys,
        int heads, int headDim, float scale, int causal) {
    // rows padded by one float: lane j reading row j at the same d hits 32 different banks
    __shared__ float keyTile[KEY_TILE][MAX_HEAD_DIM + 1];
    __shared__ float valueTile[KEY_TILE][MAX_HEAD_DIM + 1];
    __shared__ float queryRows[QUERIES_PER_BLOCK][MAX_HEAD_DIM];
    __shared__ float weights[WARPS][KEY_TILE];

    int warp = threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    int width = heads * headDim;
    long long itemQ = (long long) blockIdx.z * queries * width + (long long) blockIdx.y * headDim;
    long long itemK = (long long) blockIdx.z * keys * width + (long long) blockIdx.y * headDim;
    int firstQuery = blockIdx.x * QUERIES_PER_BLOCK;

    for (int i = threadIdx.x; i < QUERIES_PER_BLOCK * headDim; i += blockDim.x) {
        int row = i / headDim;
        int query = firstQuery + row;
        queryRows[row][i % headDim] = query < queries ? q[itemQ + (long long) query * width + i % headDim] * scale : 0.0f;
    }

    float running[QUERIES_PER_WARP];   // the running max of each query's scores
    float total[QUERIES_PER_WARP];     // the running sum of exp(score - max)
    float acc[QUERIES_PER_WARP][DIMS_PER_LANE];
    for (int s = 0; s < QUERIES_PER_WARP; s++) {
        running[s] = __int_as_float(0xff800000); // -infinity
        total[s] = 0.0f;
        for (int e = 0; e < DIMS_PER_LANE; e++) {
            acc[s][e] = 0.0f;
        }
    }

    int lastKey = causal ? min(keys, firstQuery + QUERIES_PER_BLOCK) : keys;
    for (int tileStart = 0; tileStart < lastKey; tileStart += KEY_TILE) {
        __syncthreads(); // the previous tile is no longer read
        for (int i = threadIdx.x; i < KEY_TILE * headDim; i += blockDim.x) {
            int row = i / headDim;
            int d = i % headDim;
            int key = tileStart + row;
            bool inside = key < keys;
            keyTile[row][d] = inside ? k[itemK + (long long) key * width + d] : 0.0f;
            valueTile[row][d] = inside ? v[itemK + (long long) key * width + d] : 0.0f;
        }
        __syncthreads();
        for (int s = 0; s < QUERIES_PER_WARP; s++) {
            int row = warp * QUERIES_PER_WARP + s;
            int query = firstQuery + row;
            int key = tileStart + lane;
            float score = __int_as_float(0xff800000);
            if (key < keys && !(causal && key > query)) {
                score = 0.0f;
                for (int d = 0; d < headDim; d++) {
                    score += queryRows[row][d] * keyTile[lane][d];
                }
            }
            float tileMax = score;
            for (int offset = 16; offset > 0; offset >>= 1) {
                tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, offset));
            }
            float newMax = fmaxf(running[s], tileMax);
            if (newMax == __int_as_float(0xff800000)) {
                continue; // every key of this tile is masked for this query (and all earlier ones were too)
            }
            float weight = expf(score - newMax); // 0 for masked keys
            float tileSum = weight;
            for (int offset = 16; offset > 0; offset >>= 1) {
                tileSum += __shfl_xor_sync(0xffffffffu, tileSum, offset);
            }
            float rescale = expf(running[s] - newMax); // 0 on the first tile that counts
            running[s] = newMax;
            total[s] = total[s] * rescale + tileSum;
            weights[warp][lane] = weight;
            __syncwarp();
            for (int e = 0; e < DIMS_PER_LANE; e++) {
                int d = lane + 32 * e;
                if (d < headDim) {
                    float sum = 0.0f;
                    for (int j = 0; j < KEY_TILE; j++) {
                        sum += weights[warp][j] * valueTile[j][d];
                    }
                    acc[s][e] = acc[s][e] * rescale + sum;
                }
            }
            __syncwarp(); // the weights are read before the next query overwrites them
        }
    }

    for (int s = 0; s < QUERIES_PER_WARP; s++) {
        int query = firstQuery + warp * QUERIES_PER_WARP + s;
        if (query < queries) {
            float inverse = 1.0f / total[s];
            for (int e = 0; e < DIMS_PER_LANE; e++) {
                int d = lane + 32 * e;
                if (d < headDim) {
                    out[itemQ + (long long) query * width + d] = acc[s][e] * inverse;
                }
            }
        }
    }
}
