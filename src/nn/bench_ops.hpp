// `climseg bench ops`: times the layers that dominate climate segmentation networks through the
// engine (graph nodes, planned memory), against this machine's roofs measured in the same run
// (OpenBLAS square SGEMM, a STREAM-like scale-copy); the PyTorch peer is started by apps/bench_ops.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
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

// The default cases whose op or shape contains one of the comma-separated words of `filter` (all
// for an empty filter); UsageError when none does.
std::vector<OpBenchCase> select_op_cases(const std::string& filter);

// One case as the PyTorch peer (scripts/peer/torch_ops.py, started by apps/) reads it: op, shape,
// n, c, h, w, cout, k, stride, dilation, pad.
nlohmann::json op_case_json(const OpBenchCase& c);

// One result line of `climseg bench ops` against the roofs measured for its case (sgemm GFLOP/s,
// copy GB/s): bench, op, shape, pass, algo, threads, blas_core, seconds, gflops and sgemm_gflops or
// gbytes_per_s and copy_gbs, roof_fraction, bound, roofline_fraction.
nlohmann::json op_result_json(const OpBenchResult& r, double sgemm, double copy, int threads);

}  // namespace climseg::nn
