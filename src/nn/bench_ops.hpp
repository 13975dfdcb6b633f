// `climseg bench ops`: times the layers that dominate climate segmentation networks through the
// engine (graph nodes, planned memory), against this machine's roofs measured in the same run
// (OpenBLAS square SGEMM, a STREAM-like scale-copy); the PyTorch peer is started by apps/bench_ops.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/graph.hpp"
#include "nn/padding.hpp"

namespace climseg::nn {

struct OpBenchCase {
  std::string op;  // conv2d, depthwise, batch_norm, prelu, batch_norm_prelu
  int64_t n = 1, c = 1, h = 1, w = 1;
  int64_t cout = 1, k = 3, stride = 1, dilation = 1;
  Pad pad = Pad::zeros;  // conv padding mode ((k-1)/2*dilation on every side)
  std::string shape() const;
  int64_t out_h() const;  // the output's plane (the input's but for convolutions)
  int64_t out_w() const;
  double forward_flops() const;
  double forward_bytes() const;  // minimal traffic of the forward: read x, write y (activations only)
  // and of the backward: read x and dy, write dx unless the input needs no gradient
  double backward_bytes(bool input_grad = true) const;
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

// The roofline: the seconds an op cannot beat here, its flops at the SGEMM rate (GFLOP/s) or its
// bytes at the copy bandwidth (GB/s), whichever is longer.
double roofline_seconds(double flops, double bytes, double sgemm_gflops, double copy_gbs);

// ---- the roofline of a whole step (`bench train`, `bench predict`)

// One op of a step: a graph node's forward or backward, or the optimizer's update, with the work
// it cannot avoid and its measured time (seconds per step).
struct StepOp {
  std::string name;   // the node's output name, or the optimizer's
  std::string kind;   // bench ops' name where the node is one of its ops, else the node's kind
  std::string pass;   // fwd, bwd or update
  std::string shape;  // bench ops' shape where it has one, else the output's
  double flops = 0, bytes = 0, seconds = 0;
};

// The bench ops case a profiled node is (conv2d, depthwise, batch_norm, prelu, batch_norm_prelu),
// so that a step counts its flops and bytes as `bench ops` does; false for other nodes (and for
// convolutions bench ops' cases do not describe: grouped, non-square, other padding).
bool op_case_of(const NodeProfile& p, OpBenchCase& out);

// Every node's forward, and the backward of those that run in it, as step ops; seconds are the
// profile's (Graph::set_profiling) divided by `steps`. Nodes that are no bench ops case count their
// flops as Op::flops() (times the gradients of the first two inputs in backward) and their bytes as
// reading every input and writing the output (backward: reading dy, the inputs and output it
// declares it needs, writing the input gradients), at 4 bytes an element.
std::vector<StepOp> step_ops(const std::vector<NodeProfile>& profile, int64_t steps);

// Adam's update of `params` floats: reads the parameters, gradients and both moments, writes the
// parameters and moments (28 bytes a parameter; its ~11 flops a parameter are not counted).
StepOp adam_step_op(int64_t params, double seconds);

// The step's roofline against the roofs (SGEMM GFLOP/s, copy GB/s): compute_roof_gflops,
// copy_roof_gbs, roofs (what they are), seconds (the sum of the ops' roofline_s), measured_s
// (`step_s`), fraction (seconds / measured_s), ops_s (the ops' measured seconds), other_s
// (measured_s - ops_s), by_kind (per kind and pass: count, seconds, roofline_s, lost_s), top (the
// `top` ops that lose most: seconds - roofline_s) and ops (every op: name, kind, pass, shape, flops,
// bytes, seconds, roofline_s, lost_s, bound).
nlohmann::json step_roofline_json(const std::vector<StepOp>& ops, double step_s, double sgemm, double copy,
                                  int top = 5);

// The JSON's summary as a few lines of text (the fraction, the kinds and the top ops).
std::string step_roofline_text(const nlohmann::json& roofline);

}  // namespace climseg::nn
