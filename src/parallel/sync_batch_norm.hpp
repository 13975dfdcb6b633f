// Synchronised BatchNorm: the engine's per-channel partial sums allreduced over the ranks, so every
// rank normalises with the statistics of the global batch (PyTorch's SyncBatchNorm).
#pragma once

#include <cstdint>

#include "core/mpi.hpp"
#include "nn/graph.hpp"
#include "parallel/mpi_util.hpp"

namespace climseg::parallel {

// Install with graph.set_stats_reducer(&sync) (before forward). Each BatchNorm layer then makes two
// blocking allreduces per step of (2C+1) and 2C doubles: latency-bound, so it pays where local
// batches are small (1-2 samples per rank, as at full resolution), not otherwise. On one rank (or
// without MPI) it is the identity.
class SyncBatchNorm : public nn::StatsReducer {
 public:
  // Collective over comm (duplicates it, so these reductions never interleave with others').
  explicit SyncBatchNorm(const Comm& comm);
  void allreduce_sum(double* data, int64_t n) override;

  int64_t calls() const { return calls_; }
  double seconds() const { return seconds_; }  // total time inside the reductions

 private:
  OwnedComm comm_;
  int64_t calls_ = 0;
  double seconds_ = 0;
};

}  // namespace climseg::parallel
