// Splitting work over MPI ranks: contiguous blocks of samples (or of latitude rows).
#pragma once

#include <cstdint>

namespace climseg::io {

struct Block {
  int64_t begin = 0, end = 0;  // [begin, end)
  int64_t size() const { return end - begin; }
};

// The contiguous block of n items that rank `rank` of `ranks` takes: floor(n / ranks) each, and the
// first n mod ranks ranks one more (TECA's rule). Every item is in exactly one block; a rank may
// get an empty block when n < ranks.
Block block_partition(int64_t n, int rank, int ranks);

}  // namespace climseg::io
