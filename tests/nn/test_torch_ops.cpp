// Every op through the graph (fast float kernels at every ISA level, planned memory) against
// PyTorch 1.13 on fixed inputs: outputs and the gradient of sum(out * dy) for every float input.
// The references are in tests/data/nn/ops.h5 (tests/reference/nn/make_references.py computes them
// in float64).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "core/h5.hpp"
#include "core/isa.hpp"
#include "core/threads.hpp"
#include "nn/kernels/ops_ref.hpp"
#include "nn/layers.hpp"
#include "nn/ops.hpp"
#include "nn_test_util.hpp"

namespace climseg::nn {
namespace {

Padding padding_from(const nlohmann::json& s) {
  int64_t ph = s["pad"][0], pw = s["pad"][1];
  std::string m = s["pad_mode"];
  if (m == "zeros") return Padding::zeros(ph, pw);
  if (m == "circular") return Padding::circular(ph, pw);
  if (m == "spherical_zeros") return Padding::spherical(ph, pw, Pad::zeros);
  if (m == "spherical_reflect") return Padding::spherical(ph, pw, Pad::reflect);
  throw std::runtime_error("unknown pad mode " + m);
}

struct BnHolder : Module {
  explicit BnHolder(int64_t c) : bn(c) { register_module("bn", bn); }
  BatchNorm2d bn;
};

// The most probable class of each cell of the (H, W) corner of scores (K, Hp, Wp), ties to the lower
// class (models/training's argmax_classes, which predict applies to the probabilities).
template <typename T>
void training_argmax(const float* scores, int64_t K, int64_t Hp, int64_t Wp, int64_t H, int64_t W, T* out) {
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) {
      int64_t best = 0;
      for (int64_t c = 1; c < K; ++c)
        if (scores[(c * Hp + i) * Wp + j] > scores[(best * Hp + i) * Wp + j]) best = c;
      out[i * W + j] = static_cast<T>(best);
    }
}

// Builds the op a case describes on graph inputs.
Value build(const nlohmann::json& s, const std::vector<Value>& in, BatchNorm2d* bn) {
  const std::string op = s["op"];
  if (op == "conv2d") {
    Conv2dOptions o;
    o.stride(s["stride"]).dilation(s["dilation"]).group_count(s["groups"]).pad(padding_from(s));
    return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Value{}, o);
  }
  if (op == "conv_transpose2d") {
    ConvTranspose2dOptions o{s["stride"], s["padding"], s["output_padding"], s["dilation"], s["groups"]};
    return conv_transpose2d(in[0], in[1], in.size() > 2 ? in[2] : Value{}, o);
  }
  if (op == "batch_norm2d" || op == "batch_norm_prelu") {
    BatchNormOptions o{s["eps"], s["momentum"], false};
    if (op == "batch_norm2d") return batch_norm2d(in[0], in[1], in[2], bn->running_mean(), bn->running_var(), o);
    return batch_norm_prelu(in[0], in[1], in[2], in[3], bn->running_mean(), bn->running_var(), o);
  }
  if (op == "relu") return relu(in[0]);
  if (op == "leaky_relu") return leaky_relu(in[0], s["slope"]);
  if (op == "prelu") return prelu(in[0], in[1]);
  if (op == "sigmoid") return sigmoid(in[0]);
  if (op == "tanh") return nn::tanh(in[0]);
  if (op == "softmax") return softmax(in[0]);
  if (op == "max_pool2d") return max_pool2d(in[0], s["k"], s["stride"], s["pad"]);
  if (op == "avg_pool2d") return avg_pool2d(in[0], s["k"], s["stride"], padding_from(s), s["count_include_pad"]);
  if (op == "global_avg_pool") return global_avg_pool(in[0]);
  if (op == "linear") return linear(in[0], in[1], in.size() > 2 ? in[2] : Value{});
  if (op == "upsample_bilinear") return upsample_bilinear(in[0], s["size"][0], s["size"][1], s["align_corners"]);
  if (op == "upsample_nearest") return upsample_nearest(in[0], s["size"][0], s["size"][1]);
  if (op == "concat") return concat(in);
  if (op == "add") return add(in[0], in[1]);
  if (op == "mul") return mul(in[0], in[1]);
  if (op == "scale_channels") return scale_channels(in[0], in[1]);
  LossOptions lo;
  if (s.contains("class_weights")) lo.class_weights = s["class_weights"].get<std::vector<float>>();
  if (s.contains("row_weights")) lo.row_weights = s["row_weights"].get<std::vector<float>>();
  if (s.contains("ignore_index")) lo.ignore_index = s["ignore_index"];
  if (op == "cross_entropy") return cross_entropy(in[0], in[1], lo);
  if (op == "jaccard_loss") return jaccard_loss(in[0], in[1], lo);
  if (op == "dice_loss") return dice_loss(in[0], in[1], lo);
  throw std::runtime_error("unknown op " + op);
}

// Every case of ops.h5 through the graph at the active ISA level; returns the cases checked.
int check_every_op() {
  h5::File f = h5::File::open(test::nn_data("ops.h5"));
  h5::Group cases = f.open_group("cases");
  int checked = 0;
  for (const std::string& name : cases.members()) {
    SCOPED_TRACE(name);
    h5::Group c = cases.open_group(name);
    nlohmann::json spec = nlohmann::json::parse(c.attr_string("spec"));
    const bool training = !spec.contains("training") || spec["training"].get<bool>();
    std::unique_ptr<BnHolder> holder;
    std::unique_ptr<Parameters> params;
    if (spec["op"] == "batch_norm2d" || spec["op"] == "batch_norm_prelu") {
      holder = std::make_unique<BnHolder>(c.dataset_shape("rm0")[0]);
      params = std::make_unique<Parameters>(*holder);
      c.read_into("rm0", holder->bn.running_mean().data, holder->bn.running_mean().shape);
      c.read_into("rv0", holder->bn.running_var().data, holder->bn.running_var().shape);
    }
    Graph g(params.get(), training ? Graph::Mode::train : Graph::Mode::eval);
    std::vector<Value> ins;
    std::vector<Tensor> data;
    for (int i = 0; c.has_dataset("in" + std::to_string(i)); ++i) {
      std::string key = "in" + std::to_string(i);
      Tensor t = c.read_tensor(key);
      const bool labels =
          spec["op"].get<std::string>().find("loss") != std::string::npos || spec["op"] == "cross_entropy";
      if (labels && i == 1)
        ins.push_back(g.input_labels(key, t.shape()));
      else
        ins.push_back(g.input(key, t.shape(), true));
      data.push_back(t);
    }
    Value out = build(spec, ins, holder ? &holder->bn : nullptr);
    // Eval graphs have no backward: compare the forward only, and run a train graph with frozen
    // statistics where PyTorch's eval-mode gradients are wanted.
    const bool backward = training;
    g.compile({out}, backward ? out : Value{});
    for (size_t i = 0; i < ins.size(); ++i) {
      if (ins[i].dtype() == DType::i32) {
        int32_t* l = g.labels(ins[i]);
        for (int64_t k = 0; k < data[i].numel(); ++k) l[k] = int32_t(data[i][k]);
      } else {
        g.tensor(ins[i]).copy_from(data[i]);
      }
    }
    g.forward();
    Tensor ref_out = c.read_tensor("out");
    EXPECT_LE(test::rel_max_error(g.tensor(out), ref_out.reshape(out.shape())), 1e-5) << "forward";
    if (holder && training) {
      EXPECT_LE(test::rel_max_error(holder->bn.running_mean().tensor(), c.read_tensor("rm1")), 1e-5);
      EXPECT_LE(test::rel_max_error(holder->bn.running_var().tensor(), c.read_tensor("rv1")), 1e-5);
    }
    if (backward) {
      Tensor dy = c.read_tensor("dy");
      g.backward(dy.data());
      for (size_t i = 0; i < ins.size(); ++i) {
        std::string key = "grad" + std::to_string(i);
        if (ins[i].dtype() != DType::f32) continue;
        if (!c.has_dataset(key)) {
          ADD_FAILURE() << "no reference " << key;
          continue;
        }
        EXPECT_LE(test::rel_max_error(g.grad(ins[i]), c.read_tensor(key)), 1e-5) << key;
      }
    }
    ++checked;
  }
  return checked;
}

// At every ISA level this build has and this CPU runs, against the same references.
TEST(TorchOps, EveryOpForwardAndBackwardMatchesPyTorch) {
  for (const Isa isa : runnable_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa level(isa);
    EXPECT_GE(check_every_op(), 50);
  }
}

// PyTorch's eval-mode BatchNorm gradients, through a train graph with frozen statistics.
TEST(TorchOps, FrozenBatchNormGradientsMatchEvalMode) {
  h5::File f = h5::File::open(test::nn_data("ops.h5"));
  for (std::string name : {"bn_eval", "bn_prelu_eval"}) {
    SCOPED_TRACE(name);
    h5::Group c = f.open_group("cases").open_group(name);
    BnHolder holder(c.dataset_shape("rm0")[0]);
    Parameters params(holder);
    c.read_into("rm0", holder.bn.running_mean().data, holder.bn.running_mean().shape);
    c.read_into("rv0", holder.bn.running_var().data, holder.bn.running_var().shape);
    Graph g(&params, Graph::Mode::train);
    std::vector<Value> ins;
    for (int i = 0; c.has_dataset("in" + std::to_string(i)); ++i)
      ins.push_back(g.input("in" + std::to_string(i), c.dataset_shape("in" + std::to_string(i)), true));
    BatchNormOptions o{1e-3, 0.1, true};
    Value out =
        ins.size() == 3
            ? batch_norm2d(ins[0], ins[1], ins[2], holder.bn.running_mean(), holder.bn.running_var(), o)
            : batch_norm_prelu(ins[0], ins[1], ins[2], ins[3], holder.bn.running_mean(), holder.bn.running_var(), o);
    g.compile({out}, out);
    for (size_t i = 0; i < ins.size(); ++i) g.tensor(ins[i]).copy_from(c.read_tensor("in" + std::to_string(i)));
    g.forward();
    EXPECT_LE(test::rel_max_error(g.tensor(out), c.read_tensor("out")), 1e-5);
    g.backward(c.read_tensor("dy").data());
    for (size_t i = 0; i < ins.size(); ++i)
      EXPECT_LE(test::rel_max_error(g.grad(ins[i]), c.read_tensor("grad" + std::to_string(i))), 1e-5) << i;
    // frozen: the running statistics did not move
    EXPECT_EQ(test::rel_max_error(holder.bn.running_mean().tensor(), c.read_tensor("rm0")), 0.0);
  }
}

// softmax_argmax (predict's mask without --probabilities) is the argmax of what the softmax op
// writes, ties to the lower class, at every ISA level, on the unpadded corner of a padded plane:
// also where the logits' own argmax is not (logits a hair apart whose probabilities round to a tie,
// exact ties, NaN), which a plain argmax of the logits gets wrong.
TEST(TorchOps, SoftmaxArgmaxIsTheArgmaxOfTheSoftmaxOp) {
  const int64_t C = 3, Hp = 6, Wp = 40, H = 5, W = 37, HW = Hp * Wp;
  Tensor logits({1, C, Hp, Wp});
  uint64_t state = 7;
  auto uniform = [&] {  // in [-4, 4)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>(state >> 40) / 16777216.0f * 8.0f - 4.0f;
  };
  for (float& v : logits) v = uniform();
  auto set = [&](int64_t k, float a, float b, float c) {
    logits[k] = a;
    logits[HW + k] = b;
    logits[2 * HW + k] = c;
  };
  int64_t k = 0;
  for (int64_t i = 0; i < H; ++i, k = i * Wp) {  // near-ties on every row (the first 12 columns)
    set(k++, 0.0f, 1e-10f, -1.0f);               // probabilities tie: class 0, not 1
    set(k++, -1.0f, 0.0f, 1e-12f);               // class 1, not 2
    set(k++, 1e-9f, 0.0f, 2e-9f);                // class 0, not 2
    set(k++, 0.5f, 0.5f, 0.5f);                  // exact tie: class 0
    set(k++, 2.0f, std::nextafter(2.0f, 3.0f), 1.0f);
    set(k++, 20.0f, std::nextafter(20.0f, 30.0f), std::nextafter(20.0f, 10.0f));
    set(k++, 7.0f, -3.0f, 7.0f);
    set(k++, -80.0f, -200.0f, -80.0f + 1e-5f);
    set(k++, std::nanf(""), 1.0f, 0.0f);
    set(k++, 1.0f, std::nanf(""), 2.0f);
    set(k++, 3e-8f, 0.0f, 0.0f);
    set(k++, 0.0f, 0.0f, 6e-8f);
  }
  for (const Isa isa : runnable_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa level(isa);
    Graph g(nullptr, Graph::Mode::eval);
    Value x = g.input("x", {1, C, Hp, Wp});
    Value prob = softmax(x);
    g.compile({prob});
    g.tensor(x).copy_from(logits);
    g.forward();
    std::vector<float> expect(static_cast<size_t>(H * W)), got(static_cast<size_t>(H * W), -1.0f);
    std::vector<int32_t> plain(static_cast<size_t>(H * W));
    training_argmax(g.tensor(prob).data(), C, Hp, Wp, H, W, expect.data());
    training_argmax(logits.data(), C, Hp, Wp, H, W, plain.data());
    softmax_argmax(logits.data(), C, HW, H, Wp, W, got.data());
    int64_t differ = 0, logits_differ = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      differ += got[i] != expect[i];
      logits_differ += static_cast<float>(plain[i]) != expect[i];
    }
    EXPECT_EQ(differ, 0);
    EXPECT_GE(logits_differ, 3 * H) << "the near-ties did not tie after the softmax: the test lost its point";
  }
  std::vector<float> out(4);
  EXPECT_THROW(softmax_argmax(logits.data(), C, HW, H + 2, Wp, W, out.data()), Error);
}

}  // namespace
}  // namespace climseg::nn

namespace climseg::nn {
namespace {

// One op's forward on x through the dispatched kernels with n threads.
template <class Build>
std::vector<float> pool_up_forward(const Shape& shape, const std::vector<float>& x, int threads, Build build) {
  set_num_threads(threads);
  Graph g(nullptr, Graph::Mode::eval);
  Value in = g.input("x", shape);
  Value out = build(in);
  g.compile({out}, Value{});
  std::copy(x.begin(), x.end(), g.tensor(in).data());
  g.forward();
  set_num_threads(1);
  return std::vector<float>(g.tensor(out).data(), g.tensor(out).data() + g.tensor(out).numel());
}

// The row-parallel average pooling (border columns through the padding maps, the interior through
// strided loads) and bilinear upsampling (taps precomputed per call) on odd sizes, every padding
// mode, strides 1-3, both align_corners: the same bits on 1 and 2 threads, the double reference's
// values (to float rounding and float taps), and the float reference's bits for the upsampling at
// the baseline level (no FMA there).
TEST(TorchOps, PoolAndUpsampleRowsMatchTheReferenceOnAnyThreadCount) {
  const int64_t n = 1, c = 3, h = 13, w = 23;
  const Shape shape{n, c, h, w};
  const auto xf = test::random_vec<float>(size_t(n * c * h * w), 11);
  const std::vector<double> xd(xf.begin(), xf.end());
  struct AvgCase {
    int64_t k, s;
    Padding p;
    bool cip;
  };
  for (const Isa isa : runnable_isas()) {
    SCOPED_TRACE(isa_name(isa));
    ScopedIsa level(isa);
    for (const AvgCase& a : {AvgCase{3, 2, Padding::circular(1), true}, AvgCase{3, 2, Padding::zeros(1), false},
                             AvgCase{3, 1, Padding::zeros(1), true}, AvgCase{2, 2, Padding::zeros(0), true},
                             AvgCase{3, 3, Padding::spherical(1, Pad::reflect), true},
                             AvgCase{3, 2, Padding::spherical(1, Pad::zeros), false}}) {
      SCOPED_TRACE(fmt::format("avg_pool2d k{} s{} {} cip={}", a.k, a.s, padding_str(a.p), a.cip));
      auto pool = [&](Value v) { return avg_pool2d(v, a.k, a.s, a.p, a.cip); };
      const auto y1 = pool_up_forward(shape, xf, 1, pool), y2 = pool_up_forward(shape, xf, 2, pool);
      ASSERT_EQ(y1.size(), y2.size());
      EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * 4), 0);
      const int64_t oh = (h + 2 * a.p.h - a.k) / a.s + 1, ow = (w + 2 * a.p.w - a.k) / a.s + 1;
      ASSERT_EQ(int64_t(y1.size()), n * c * oh * ow);
      std::vector<double> yd(y1.size());
      ref::avg_pool2d_forward(xd.data(), yd.data(), n, c, h, w, a.k, a.k, a.s, a.s, a.p, a.cip, oh, ow);
      EXPECT_LE(test::rel_max_error(y1.data(), yd.data(), int64_t(yd.size())), 1e-6);
    }
    for (auto [oh, ow, ac] : {std::tuple{27, 49, false}, std::tuple{27, 49, true}, std::tuple{5, 7, false},
                              std::tuple{1, 1, true}, std::tuple{26, 46, false}}) {
      SCOPED_TRACE(fmt::format("upsample_bilinear {}x{} align_corners={}", oh, ow, ac));
      auto up = [&, oh = oh, ow = ow, ac = ac](Value v) { return upsample_bilinear(v, oh, ow, ac); };
      const auto y1 = pool_up_forward(shape, xf, 1, up), y2 = pool_up_forward(shape, xf, 2, up);
      ASSERT_EQ(y1.size(), y2.size());
      EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * 4), 0);
      std::vector<double> yd(y1.size());
      ref::upsample_bilinear_forward(xd.data(), yd.data(), n * c, h, w, oh, ow, ac);
      EXPECT_LE(test::rel_max_error(y1.data(), yd.data(), int64_t(yd.size())), 1e-5);  // float taps
      if (isa == Isa::baseline) {
        std::vector<float> yf(y1.size());
        ref::upsample_bilinear_forward(xf.data(), yf.data(), n * c, h, w, oh, ow, ac);
        EXPECT_EQ(std::memcmp(y1.data(), yf.data(), y1.size() * 4), 0);
      }
    }
  }
}

}  // namespace
}  // namespace climseg::nn
