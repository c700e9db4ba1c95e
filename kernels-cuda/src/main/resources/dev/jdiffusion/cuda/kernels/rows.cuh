// Walking a [rows, width] matrix without a division per element: the threads of a block spread over a row's
// columns (several rows to a block where a row is narrower than the block) and the blocks over the rows, in a
// grid-stride loop. A flat element index would need a 64-bit division and remainder per element to find its row
// and column, tens of instructions each on a GPU, which made such kernels bound by their arithmetic rather than by
// memory; here anything derived from the row alone is computed once per row. Launched by KernelLibrary.launchRows.
#pragma once

template <typename Body>
__device__ __forceinline__ void for_each_row_column(long long rows, int width, Body body) {
    int lanes = min(width, (int) blockDim.x); // threads per row
    int rowsPerBlock = blockDim.x / lanes;
    int r = threadIdx.x / lanes;
    if (r >= rowsPerBlock) {
        return;
    }
    int first = threadIdx.x - r * lanes;
    for (long long row = (long long) blockIdx.x * rowsPerBlock + r; row < rows; row += (long long) gridDim.x * rowsPerBlock) {
        for (int column = first; column < width; column += lanes) {
            body(row, column);
        }
    }
}
