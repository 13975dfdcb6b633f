// Contiguous block partition.
#include "readers/partition.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace climseg::io {

Block block_partition(int64_t n, int rank, int ranks) {
  if (ranks <= 0 || rank < 0 || rank >= ranks || n < 0)
    fail("block_partition: bad arguments n={} rank={}/{}", n, rank, ranks);
  const int64_t base = n / ranks, extra = n % ranks;
  Block b;
  b.begin = rank * base + std::min<int64_t>(rank, extra);
  b.end = b.begin + base + (rank < extra ? 1 : 0);
  // The blocks of ranks 0..ranks-1 tile [0, n) in order.
  CLIMSEG_ASSERT(b.begin <= b.end && b.end <= n && (rank + 1 < ranks || b.end == n));
  return b;
}

}  // namespace climseg::io
