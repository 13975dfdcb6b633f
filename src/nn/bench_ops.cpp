// Op timings through the engine, and the machine's SGEMM and copy-bandwidth roofs.
#include "nn/bench_ops.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "core/error.hpp"
#include "core/median.hpp"
#include "core/tensor.hpp"
#include "core/threads.hpp"
#include "nn/layers.hpp"

namespace climseg::nn {
namespace {

double now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// One layer as a module, so its weights live in an arena like a real network's.
struct Holder : Module {
  std::unique_ptr<Module> layer;
};

}  // namespace

std::string OpBenchCase::shape() const {
  if (op == "conv2d")
    return fmt::format("{}x{}x{}x{} k{} s{} d{} ->{} {}", n, c, h, w, k, stride, dilation, cout, pad_name(pad));
  if (op == "depthwise")
    return fmt::format("{}x{}x{}x{} k{} s{} d{} {}", n, c, h, w, k, stride, dilation, pad_name(pad));
  return fmt::format("{}x{}x{}x{}", n, c, h, w);
}

double OpBenchCase::forward_flops() const {
  const int64_t p = (k - 1) / 2 * dilation;
  const int64_t oh = (h + 2 * p - dilation * (k - 1) - 1) / stride + 1,
                ow = (w + 2 * p - dilation * (k - 1) - 1) / stride + 1;
  if (op == "conv2d") return 2.0 * double(n * cout * oh * ow) * double(c * k * k);
  if (op == "depthwise") return 2.0 * double(n * c * oh * ow) * double(k * k);
  return 0;
}

double OpBenchCase::forward_bytes() const {
  const double x = 4.0 * double(n * c * h * w);
  if (op == "depthwise" && stride > 1) return x + x / double(stride * stride);
  return 2 * x;
}

double OpBenchCase::backward_bytes() const {
  const double x = 4.0 * double(n * c * h * w);
  const double y = op == "depthwise" && stride > 1 ? x / double(stride * stride) : x;
  return 2 * x + y;  // read x and dy, write dx
}

std::vector<OpBenchCase> default_op_cases() {
  auto conv = [](int64_t n, int64_t c, int64_t h, int64_t w, int64_t cout, int64_t k, int64_t s, Pad p) {
    OpBenchCase b;
    b.op = "conv2d", b.n = n, b.c = c, b.h = h, b.w = w, b.cout = cout, b.k = k, b.stride = s, b.pad = p;
    return b;
  };
  auto dw = [](int64_t n, int64_t c, int64_t h, int64_t w, int64_t d) {
    OpBenchCase b;
    b.op = "depthwise", b.n = n, b.c = c, b.h = h, b.w = w, b.cout = c, b.dilation = d, b.pad = Pad::circular;
    return b;
  };
  auto ew = [](const char* op, int64_t n, int64_t c, int64_t h, int64_t w) {
    OpBenchCase b;
    b.op = op, b.n = n, b.c = c, b.h = h, b.w = w, b.cout = c;
    return b;
  };
  return {
      conv(1, 4, 768, 1152, 32, 3, 2, Pad::circular),  // CGNet level1_0 at full resolution
      conv(1, 32, 384, 576, 32, 3, 1, Pad::circular),  // level1_1/2 at full resolution
      conv(4, 32, 96, 144, 32, 3, 1, Pad::circular),   // level1_1/2 at 192x288 training
      conv(4, 64, 192, 288, 64, 3, 1, Pad::zeros),     // PyTorch's figure: 121 / 99 GFLOP/s
      conv(4, 64, 192, 288, 64, 3, 1, Pad::circular),  // the same with ClimateNet's padding
      conv(4, 128, 96, 144, 128, 3, 1, Pad::zeros),    // PyTorch: 183 / 168
      conv(2, 16, 384, 576, 32, 3, 1, Pad::zeros),     // PyTorch: 33 / 56
      conv(4, 256, 96, 144, 128, 1, 1, Pad::zeros),    // 1x1 reduce
      dw(4, 128, 96, 144, 2),                          // F_sur at stage 2/3 widths
      dw(4, 128, 96, 144, 4),
      dw(1, 8, 96, 144, 2),  // the same planes in cache (442 KB): the kernel's own rate
      dw(1, 8, 96, 144, 4),
      ew("batch_norm", 4, 64, 192, 288),
      ew("prelu", 4, 64, 192, 288),
      ew("batch_norm_prelu", 4, 64, 192, 288),
  };
}

std::vector<OpBenchResult> bench_op(const OpBenchCase& c, int repeats) {
  Holder holder;
  const int64_t p = (c.k - 1) / 2 * c.dilation;
  Padding pad = c.pad == Pad::zeros ? Padding::zeros(p)
                                    : (c.pad == Pad::circular ? Padding::circular(p) : Padding::spherical(p, c.pad));
  if (c.op == "conv2d")
    holder.layer = std::make_unique<Conv2d>(c.c, c.cout, c.k,
                                            Conv2dOptions().stride(c.stride).dilation(c.dilation).pad(pad), false);
  else if (c.op == "depthwise")
    holder.layer = std::make_unique<Conv2d>(
        c.c, c.c, c.k, Conv2dOptions().stride(c.stride).dilation(c.dilation).group_count(c.c).pad(pad), false);
  else if (c.op == "batch_norm")
    holder.layer = std::make_unique<BatchNorm2d>(c.c, 1e-3);
  else if (c.op == "prelu")
    holder.layer = std::make_unique<PReLU>(c.c);
  else if (c.op == "batch_norm_prelu")
    holder.layer = std::make_unique<BnPrelu>(c.c, 1e-3);
  else
    fail_usage("bench ops: unknown op '{}'", c.op);
  holder.register_module("layer", *holder.layer);
  Parameters params(holder, 1);
  Graph g(&params, Graph::Mode::train);
  Value x = g.input("x", {c.n, c.c, c.h, c.w}, true);
  Value y;
  if (auto* m = dynamic_cast<Conv2d*>(holder.layer.get())) y = m->forward(x);
  if (auto* m = dynamic_cast<BatchNorm2d*>(holder.layer.get())) y = m->forward(x);
  if (auto* m = dynamic_cast<PReLU*>(holder.layer.get())) y = m->forward(x);
  if (auto* m = dynamic_cast<BnPrelu*>(holder.layer.get())) y = m->forward(x);
  g.compile({y}, y);
  g.set_profiling(true);
  Tensor xt = g.tensor(x);
  for (int64_t i = 0; i < xt.numel(); ++i) xt[i] = float((i * 2654435761u) % 1000) * 0.002f - 1.0f;
  g.forward();
  g.backward();
  std::vector<double> fwd, both;
  double f0 = 0, b0 = 0;
  {
    auto pr = g.profile();
    f0 = pr[0].forward_s, b0 = pr[0].backward_s;
  }
  for (int r = 0; r < repeats; ++r) {
    g.forward();
    g.backward();
    auto pr = g.profile();
    const double f = pr[0].forward_s - f0, b = pr[0].backward_s - b0;
    f0 = pr[0].forward_s, b0 = pr[0].backward_s;
    fwd.push_back(f);
    both.push_back(f + b);
  }
  const std::string algo = g.profile()[0].detail;
  OpBenchResult rf{c, "fwd", median(fwd), c.forward_flops(), c.forward_bytes(), algo};
  OpBenchResult rb{c, "fwd+bwd", median(both), 3 * c.forward_flops(), c.forward_bytes() + c.backward_bytes(), algo};
  return {rf, rb};
}

double sgemm_gflops(int64_t n) {
  Tensor a = Tensor::full({n, n}, 0.5f), b = Tensor::full({n, n}, 0.25f), cm({n, n});
  double best = 1e30;
  for (int r = 0; r < 4; ++r) {
    double t = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(n), int(n), 1.0f, a.data(), int(n), b.data(),
                int(n), 0.0f, cm.data(), int(n));
    if (r > 0) best = std::min(best, now() - t);
  }
  return 2.0 * double(n) * double(n) * double(n) / best / 1e9;
}

double copy_bandwidth_gbs(int64_t mib) {
  const int64_t n = mib * 1024 * 1024 / 4;
  Tensor a = Tensor::empty({n}), b = Tensor::empty({n});
  float* pa = a.data();
  float* pb = b.data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) pa[i] = 1.0f, pb[i] = 0.0f;  // first touch by the threads that use it
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    double t = now();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) pb[i] = 1.5f * pa[i];
    best = std::min(best, now() - t);
  }
  return 2.0 * 4.0 * double(n) / best / 1e9;
}

std::vector<OpBenchCase> select_op_cases(const std::string& filter) {
  std::vector<std::string> words;
  for (size_t b = 0; b <= filter.size();) {
    size_t e = filter.find(',', b);
    if (e == std::string::npos) e = filter.size();
    if (e > b) words.push_back(filter.substr(b, e - b));
    b = e + 1;
  }
  std::vector<OpBenchCase> cases;
  for (const auto& c : default_op_cases()) {
    bool keep = words.empty();
    for (const auto& w : words)
      keep = keep || c.op.find(w) != std::string::npos || c.shape().find(w) != std::string::npos;
    if (keep) cases.push_back(c);
  }
  if (cases.empty()) fail_usage("no op matches --filter '{}'", filter);
  return cases;
}

nlohmann::json op_case_json(const OpBenchCase& c) {
  return {{"op", c.op},
          {"shape", c.shape()},
          {"n", c.n},
          {"c", c.c},
          {"h", c.h},
          {"w", c.w},
          {"cout", c.cout},
          {"k", c.k},
          {"stride", c.stride},
          {"dilation", c.dilation},
          {"pad", pad_name(c.pad)}};
}

nlohmann::json op_result_json(const OpBenchResult& r, double sgemm, double copy, int threads) {
  const OpBenchCase& c = r.c;
  nlohmann::json j = {{"bench", "ops"},
                      {"op", c.op},
                      {"shape", c.shape()},
                      {"pass", r.pass},
                      {"algo", r.algo},
                      {"threads", threads},
                      {"blas_core", blas_core_name()},
                      {"seconds", r.seconds}};
  if (!c.memory_bound()) {
    const double gf = r.flops / r.seconds / 1e9;
    j["gflops"] = gf;
    j["sgemm_gflops"] = sgemm;
    j["roof_fraction"] = gf / sgemm;
  } else {
    const double gb = r.bytes / r.seconds / 1e9;
    j["gbytes_per_s"] = gb;
    j["copy_gbs"] = copy;
    j["roof_fraction"] = gb / copy;
    if (r.flops > 0) j["gflops"] = r.flops / r.seconds / 1e9, j["sgemm_gflops"] = sgemm;
  }
  // The roofline: the op cannot take less than its bytes at the copy bandwidth nor its flops at
  // the SGEMM rate, whichever is longer ("bound" names it). A depthwise 3x3 does 4.5 flops per
  // byte, more than this machine's balance (~3), so it is compute-bound here.
  const double t_mem = r.bytes > 0 ? r.bytes / (copy * 1e9) : 0.0, t_flop = r.flops / (sgemm * 1e9);
  j["bound"] = t_flop >= t_mem ? "compute" : "memory";
  j["roofline_fraction"] = std::max(t_mem, t_flop) / r.seconds;
  return j;
}

}  // namespace climseg::nn
