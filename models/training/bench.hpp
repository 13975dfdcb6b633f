// `climseg bench train` and `climseg bench predict`: a network's training step (forward, weighted
// cross-entropy, backward, Adam) and prediction (forward + softmax) timed on random inputs, with
// peak memory; apps/bench_train.cpp runs the same workload in PyTorch (scripts/peer/torch_cgnet.py)
// and merges its figures with add_peer.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/mpi.hpp"
#include "nn/precision.hpp"

namespace climseg::training {

struct BenchOptions {
  std::string model = "cgnet";  // cgnet, unet, deeplabv3plus (default hyper-parameters)
  int64_t height = 192, width = 288;
  int64_t batch = 4;
  int64_t channels = 4, classes = 3;
  int64_t steps = 5, warmup = 1;
  bool ranks_report = false;  // under MPI: per-step forward/backward/exposed-communication report
  double bucket_mb = 1.0;     // gradient allreduce bucket size under MPI (GradSync default)
  // The convolutions' arithmetic (nn/precision.hpp); bf16 for bench_predict only.
  nn::Precision precision = nn::Precision::fp32;
  // The step's roofline (one rank only): roofs measured after the timed steps on full-size arrays
  // (full), on small ones (quick: less accurate, for smoke tests), or not at all (off).
  std::string roofline = "full";
};

// One JSON object: bench, model, grid, batch, threads, precision, steps, median_s, min_s, samples_per_s,
// peak_rss_mb, arena_mb; on one rank unless o.roofline is off, "roofline": the step's ops (graph
// nodes' forward and backward as profiled over the timed steps, and Adam's update) against the
// SGEMM and copy roofs measured after them (nn::step_roofline_json: each op's median over the timed
// steps against the median step; peak_rss_mb is read before the roofs are measured).
// Under MPI the gradients are averaged with parallel::GradSync (bucketed, overlapped with
// backward); with ranks_report the object also has "ranks_report": per step forward_s,
// backward_s, exposed_comm_s (communication left after backward, min over ranks), imbalance_s,
// comm_s (the reduction alone), hidden_fraction, and their medians.
nlohmann::json bench_train(const BenchOptions& o, const Comm& comm);
nlohmann::json bench_predict(const BenchOptions& o, const Comm& comm);

// Adds a peer's figures (its JSON object: median_s, peak_rss_mb, optionally peer and, from a run
// under both allocator settings, median_s_default_allocator, median_s_keep_memory and
// median_s_allocator) to a bench_train or bench_predict object: peer, peer_median_s (and the three
// with their peer_ prefix), peer_peak_rss_mb, speedup, memory_ratio. Nothing for null.
void add_peer(nlohmann::json& report, const nlohmann::json& peer);

// Peak resident memory of this process so far, in MB.
double peak_rss_mb();

}  // namespace climseg::training
