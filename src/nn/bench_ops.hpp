// `climseg bench ops`: times the layers that dominate climate segmentation networks through the
// engine (graph nodes, planned memory), against this machine's roofs measured in the same run
// (OpenBLAS square SGEMM, a STREAM-like scale-copy) and, optionally, against PyTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/padding.hpp"

namespace climseg::nn {

struct OpBenchCase {
  std::string op;  // conv2d, depthwise, batch_norm, prelu, batch_norm_prelu
  int64_t n = 1, c = 1, h = 1, w = 1;
  int64_t cout = 1, k = 3, stride = 1, dilation = 1;
  Pad pad = Pad::zeros;  // conv padding mode ((k-1)/2*dilation on every side)
  std::string shape() const;
  double forward_flops() const;
  double forward_bytes() const;   // minimal traffic of the forward (memory-bound ops)
  double backward_bytes() const;  // and of the backward (input and parameter gradients)
  bool memory_bound() const { return op != "conv2d"; }
};

// The default list: the shapes (ClimateNet CGNet at 768x1152 / 192x288, PyTorch's figures).
std::vector<OpBenchCase> default_op_cases();

struct OpBenchResult {
  OpBenchCase c;
  std::string pass;  // "fwd" or "fwd+bwd"
  double seconds = 0;
  double flops = 0, bytes = 0;
  std::string algo;
};

// Median time of the op node's forward, and of forward + backward (input and weight gradients),
// over `repeats` runs after one warm-up.
std::vector<OpBenchResult> bench_op(const OpBenchCase& c, int repeats);

// OpenBLAS cblas_sgemm on n x n matrices (best of a few runs), GFLOP/s.
double sgemm_gflops(int64_t n = 2048);
// b[i] = 1.5 * a[i] over two arrays of `mib` MiB each with OpenMP; GB/s counting read + write.
double copy_bandwidth_gbs(int64_t mib = 256);

// Runs scripts/peer/torch_ops.py (PyTorch, same shapes, `threads` threads) with `python` and returns
// its median seconds per (op, shape, pass) as "op|shape|pass" keys. Throws Error when the
// interpreter or torch is missing.
std::vector<std::pair<std::string, double>> run_torch_peer(const std::vector<OpBenchCase>& cases, int threads,
                                                           int repeats, const std::string& python);

}  // namespace climseg::nn
