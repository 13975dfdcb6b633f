// `climseg bench allreduce`: what gradient synchronisation costs on this machine and how much of it
// backward hides. Raw MPI_Allreduce times per message size (with an alpha-beta fit), then training
// steps of a network with the gradient buckets overlapped with backward, against the same steps
// reducing everything after backward (the no-overlap peer), measured in the same run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "nn/graph.hpp"
#include "nn/module.hpp"
#include "parallel/grad_sync.hpp"

namespace climseg::parallel {

// Median time of an in-place MPI_Allreduce (sum, float) of `bytes` over comm, the slowest rank's.
double time_allreduce(const Comm& comm, int64_t bytes, int repeats);

// Fits t(n) = a + b n to (bytes, seconds) points by least squares; returns {a (s), 1/b (bytes/s)}.
std::pair<double, double> fit_alpha_beta(const std::vector<std::pair<int64_t, double>>& points);

struct StepBenchOptions {
  int64_t batch = 2;  // samples per rank
  int64_t channels = 4, classes = 3, height = 192, width = 288;
  int steps = 5, warmup = 1;  // timed steps (medians reported) after warm-up steps
  GradSyncOptions sync;
  int fail_rank = -1;  // testing aid: this rank throws at step fail_step
  int fail_step = -1;
};

// Per-step figures of one mode; medians over the timed steps, each the slowest rank's.
struct StepBenchResult {
  std::string mode;  // "overlap", "overlap-no-hook-progress", "after-backward"
  double step_s = 0, forward_s = 0, backward_s = 0, optimizer_s = 0;
  double exposed_s = 0;         // communication left after backward (the last-arriving rank's wait)
  double imbalance_s = 0;       // the other ranks' extra wait for the slowest one
  double comm_s = 0;            // calibrated cost of the reduction alone
  double hidden_fraction = 0;   // 1 - exposed / comm
  double exposed_fraction = 0;  // exposed / step
  int buckets_done_in_backward = 0;
  int buckets = 0;
  std::vector<GradSyncTimings> per_step;  // this rank's, every timed step
};

// Builds a training graph with `forward` (x (N, C, H, W) -> logits (N, K, H, W)) over `params`,
// trains with Adam on fixed random data, and times the three modes taking turns step by step (same graph, same
// weights). Collective over comm. `on_step(mode, step)` is called after every step (progress).
std::vector<StepBenchResult> bench_training_steps(nn::Parameters& params,
                                                  const std::function<nn::Value(nn::Value)>& forward, const Comm& comm,
                                                  const StepBenchOptions& o,
                                                  const std::function<void(const std::string&, int)>& on_step = {});

}  // namespace climseg::parallel
