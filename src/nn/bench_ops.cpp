// Op timings through the engine, and the machine's SGEMM and copy-bandwidth roofs.
#include "nn/bench_ops.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
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

int64_t OpBenchCase::out_h() const {
  const int64_t p = (k - 1) / 2 * dilation;
  return op == "conv2d" || op == "depthwise" ? (h + 2 * p - dilation * (k - 1) - 1) / stride + 1 : h;
}

int64_t OpBenchCase::out_w() const {
  const int64_t p = (k - 1) / 2 * dilation;
  return op == "conv2d" || op == "depthwise" ? (w + 2 * p - dilation * (k - 1) - 1) / stride + 1 : w;
}

double OpBenchCase::forward_flops() const {
  if (op == "conv2d") return 2.0 * double(n * cout * out_h() * out_w()) * double(c * k * k);
  if (op == "depthwise") return 2.0 * double(n * c * out_h() * out_w()) * double(k * k);
  return 0;
}

// Activations only: the weights (at most 128x256 floats here) are noise beside them.
double OpBenchCase::forward_bytes() const {
  const double x = 4.0 * double(n * c * h * w);
  const double y = 4.0 * double(n * (op == "conv2d" ? cout : c) * out_h() * out_w());
  return x + y;  // read x, write y
}

double OpBenchCase::backward_bytes(bool input_grad) const {
  const double x = 4.0 * double(n * c * h * w);
  const double y = 4.0 * double(n * (op == "conv2d" ? cout : c) * out_h() * out_w());
  return x + y + (input_grad ? x : 0.0);  // read x and dy, write dx
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
  j["bound"] = r.flops / sgemm >= r.bytes / copy ? "compute" : "memory";
  j["roofline_fraction"] = roofline_seconds(r.flops, r.bytes, sgemm, copy) / r.seconds;
  return j;
}

double roofline_seconds(double flops, double bytes, double sgemm_gflops, double copy_gbs) {
  return std::max(flops / (sgemm_gflops * 1e9), bytes / (copy_gbs * 1e9));
}

// ---------------------------------------------------------------- the roofline of a whole step

namespace {

double elems(const Shape& s) {
  double n = 1;
  for (int64_t d : s) n *= double(d);
  return n;
}

}  // namespace

bool op_case_of(const NodeProfile& p, OpBenchCase& out) {
  static const std::pair<const char*, const char*> kElementwise[] = {
      {"batch_norm2d", "batch_norm"}, {"batch_norm_prelu", "batch_norm_prelu"}, {"prelu", "prelu"}};
  if (p.input_shapes.empty() || p.input_shapes[0].size() != 4) return false;
  const Shape& x = p.input_shapes[0];
  OpBenchCase c;
  c.n = x[0], c.c = x[1], c.h = x[2], c.w = x[3], c.cout = x[1];
  for (const auto& [kind, op] : kElementwise)
    if (p.kind == kind) {
      c.op = op;
      out = c;
      return true;
    }
  if (p.kind != "conv2d" || p.input_shapes.size() < 2 || p.input_shapes[1].size() != 4 || p.shape.size() != 4)
    return false;
  // The geometry from the op's detail ("3x3 s1 d2 g32 pad 2x2 circular [algo]").
  long kh = 0, kw = 0, s = 0, d = 0, g = 0, ph = 0, pw = 0;
  char mode[32] = {};
  if (std::sscanf(p.detail.c_str(), "%ldx%ld s%ld d%ld g%ld pad %ldx%ld %31s", &kh, &kw, &s, &d, &g, &ph, &pw, mode) !=
      8)
    return false;
  c.k = kh, c.stride = s, c.dilation = d, c.cout = p.shape[1];
  const std::string m = mode;
  if (kh != kw || ph != pw || ph != (kh - 1) / 2 * d) return false;
  if (m == "zeros")
    c.pad = Pad::zeros;
  else if (m == "circular")
    c.pad = Pad::circular;
  else
    return false;  // spherical and reflect: not a bench ops case
  if (g == 1)
    c.op = "conv2d";
  else if (g == c.c && c.cout == c.c)
    c.op = "depthwise";
  else
    return false;
  if (c.out_h() != p.shape[2] || c.out_w() != p.shape[3] ||
      std::abs(c.forward_flops() - p.flops) > 1e-9 * std::max(1.0, p.flops))
    return false;
  out = c;
  return true;
}

std::vector<StepOp> step_ops(const std::vector<NodeProfile>& profile, int64_t steps) {
  std::vector<StepOp> ops;
  for (const NodeProfile& p : profile) {
    if (p.folded) continue;  // its work is its producers' (an inference fusion): no traffic of its own
    OpBenchCase c;
    const bool is_case = op_case_of(p, c);
    const bool x_grad = !p.input_grad.empty() && p.input_grad[0];
    StepOp f{p.output_name, is_case ? c.op : p.kind, "fwd", is_case ? c.shape() : shape_str(p.shape)};
    f.seconds = p.forward_s / double(steps);
    StepOp b = f;
    b.pass = "bwd";
    b.seconds = p.backward_s / double(steps);
    if (is_case) {
      f.flops = c.forward_flops();
      f.bytes = c.forward_bytes();
      // dx and dw each cost a forward's flops; BatchNorm's and PReLU's parameter gradients are
      // per-channel sums inside the same pass.
      const bool w_grad = p.input_grad.size() > 1 && p.input_grad[1];
      b.flops = c.forward_flops() * ((x_grad ? 1 : 0) + (w_grad ? 1 : 0));
      b.bytes = c.backward_bytes(x_grad);
    } else {
      const double y = 4.0 * elems(p.shape);
      f.flops = p.flops;
      f.bytes = y;
      b.flops = 0;
      b.bytes = y + (p.output_read_in_backward ? y : 0.0);  // dy (and y)
      for (size_t i = 0; i < p.input_shapes.size(); ++i) {
        const double xi = 4.0 * elems(p.input_shapes[i]);
        f.bytes += xi;
        if (i < p.input_read_in_backward.size() && p.input_read_in_backward[i]) b.bytes += xi;
        if (i < p.input_grad.size() && p.input_grad[i]) {
          b.bytes += xi;
          if (i < 2) b.flops += p.flops;  // dx and dW of a GEMM-shaped op
        }
      }
    }
    ops.push_back(std::move(f));
    if (p.in_backward) ops.push_back(std::move(b));
  }
  return ops;
}

StepOp adam_step_op(int64_t params, double seconds) {
  StepOp a{"optimizer", "adam", "update", fmt::format("{} parameters", params)};
  a.bytes = 7.0 * 4.0 * double(params);
  a.seconds = seconds;
  return a;
}

nlohmann::json step_roofline_json(const std::vector<StepOp>& ops, double step_s, double sgemm, double copy, int top) {
  using nlohmann::json;
  json all = json::array();
  double roof = 0, measured = 0;
  struct Kind {
    int count = 0;
    double seconds = 0, roofline_s = 0;
  };
  std::map<std::string, Kind> kinds;
  std::vector<std::pair<double, size_t>> lost;
  for (const StepOp& o : ops) {
    const double r = roofline_seconds(o.flops, o.bytes, sgemm, copy);
    roof += r;
    measured += o.seconds;
    Kind& k = kinds[o.kind + " " + o.pass];
    ++k.count, k.seconds += o.seconds, k.roofline_s += r;
    lost.emplace_back(o.seconds - r, all.size());
    all.push_back({{"name", o.name},
                   {"kind", o.kind},
                   {"pass", o.pass},
                   {"shape", o.shape},
                   {"flops", o.flops},
                   {"bytes", o.bytes},
                   {"seconds", o.seconds},
                   {"roofline_s", r},
                   {"lost_s", o.seconds - r},
                   {"bound", o.flops / sgemm >= o.bytes / copy ? "compute" : "memory"}});
  }
  std::stable_sort(lost.begin(), lost.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  json tops = json::array();
  for (size_t i = 0; i < lost.size() && i < size_t(std::max(top, 0)); ++i) tops.push_back(all[lost[i].second]);
  std::vector<std::pair<std::string, Kind>> by(kinds.begin(), kinds.end());
  std::stable_sort(by.begin(), by.end(), [](const auto& a, const auto& b) {
    return a.second.seconds - a.second.roofline_s > b.second.seconds - b.second.roofline_s;
  });
  json by_kind = json::array();
  for (const auto& [name, k] : by)
    by_kind.push_back({{"kind", name.substr(0, name.find(' '))},
                       {"pass", name.substr(name.find(' ') + 1)},
                       {"count", k.count},
                       {"seconds", k.seconds},
                       {"roofline_s", k.roofline_s},
                       {"lost_s", k.seconds - k.roofline_s}});
  return {
      {"compute_roof_gflops", sgemm},
      {"copy_roof_gbs", copy},
      {"roofs",
       "fp32: OpenBLAS square SGEMM (compute) and a scale-copy (b = 1.5 a, read + write), measured in this run after "
       "the timed steps; bytes are fp32 activations"},
      {"seconds", roof},
      {"measured_s", step_s},
      {"fraction", roof / step_s},
      {"ops_s", measured},
      {"other_s", step_s - measured},
      {"by_kind", by_kind},
      {"top", tops},
      {"ops", all}};
}

std::string step_roofline_text(const nlohmann::json& r) {
  std::string s = fmt::format(
      "roofline: {:.4f} s of {:.4f} s measured = {:.2f} of the roofline (roofs: SGEMM {:.1f} GFLOP/s, copy {:.1f} "
      "GB/s)\n",
      r["seconds"].get<double>(), r["measured_s"].get<double>(), r["fraction"].get<double>(),
      r["compute_roof_gflops"].get<double>(), r["copy_roof_gbs"].get<double>());
  s += fmt::format("  {}\n", r["roofs"].get<std::string>());
  s += fmt::format("  {:<22} {:>5} {:>10} {:>10} {:>10}\n", "kind pass", "ops", "seconds", "roofline", "lost");
  for (const auto& k : r["by_kind"])
    s += fmt::format("  {:<22} {:>5} {:>10.4f} {:>10.4f} {:>10.4f}\n",
                     k["kind"].get<std::string>() + " " + k["pass"].get<std::string>(), k["count"].get<int>(),
                     k["seconds"].get<double>(), k["roofline_s"].get<double>(), k["lost_s"].get<double>());
  s += fmt::format("  {:<22} {:>5} {:>10.4f}\n", "outside ops", "", r["other_s"].get<double>());
  s += "  ops losing most against their roofline:\n";
  for (const auto& o : r["top"])
    s += fmt::format("  {:>8.4f} s lost ({:.4f} s, roofline {:.4f} s, {}-bound)  {} {} {} [{}]\n",
                     o["lost_s"].get<double>(), o["seconds"].get<double>(), o["roofline_s"].get<double>(),
                     o["bound"].get<std::string>(), o["kind"].get<std::string>(), o["pass"].get<std::string>(),
                     o["shape"].get<std::string>(), o["name"].get<std::string>());
  return s;
}

}  // namespace climseg::nn
