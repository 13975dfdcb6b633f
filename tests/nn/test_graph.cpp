// The graph and the parameter arena: dotted names, arena layout, memory planning, gradient
// accumulation over several consumers, the grad-ready hook, aliases, dropout, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/threads.hpp"
#include "nn/bench_ops.hpp"
#include "nn/layers.hpp"
#include "nn/ops.hpp"
#include "nn/precision.hpp"
#include "nn_test_util.hpp"

namespace climseg::nn {
namespace {

// conv -> BN+PReLU -> gate (ClimateNet's naming), in a two-level tree.
struct Gate : Module {
  Gate(int64_t c, int64_t r) : fc0(c, c / r), fc2(c / r, c) {
    register_module("fc0", fc0);
    register_module("fc2", fc2);
  }
  Value forward(Value x) { return scale_channels(x, sigmoid(fc2(relu(fc0(global_avg_pool(x)))))); }
  Linear fc0, fc2;
};

struct Block : Module {
  Block(int64_t cin, int64_t cout)
      : conv(cin, cout, 3, Conv2dOptions().pad(Padding::circular(1)), false), bn_prelu(cout), gate(cout, 2) {
    register_module("conv", conv);
    register_module("bn_prelu", bn_prelu);
    register_module("F_glo", gate);
  }
  Value forward(Value x) { return gate.forward(bn_prelu(conv(x))); }
  Conv2d conv;
  BnPrelu bn_prelu;
  Gate gate;
};

struct Net : Module {
  Net() {
    for (int i = 0; i < 3; ++i) blocks.push_back(&emplace_module<Block>(std::to_string(i), i == 0 ? 3 : 4, 4));
    register_module("head", head);
  }
  Value forward(Value x) {
    for (Block* b : blocks) x = b->forward(x);
    return head(x);
  }
  std::vector<Block*> blocks;
  Conv2d head{4, 2, 1};
};

TEST(Parameters, DottedNamesArenaLayoutAndCounts) {
  Net net;
  Parameters p(net, 1);
  EXPECT_NE(p.find("0.conv.weight"), nullptr);
  EXPECT_NE(p.find("2.bn_prelu.bn.running_var"), nullptr);
  EXPECT_NE(p.find("1.F_glo.fc2.bias"), nullptr);
  EXPECT_EQ(p.find("0.conv.bias"), nullptr);
  EXPECT_EQ(p.at("head.weight").shape, (Shape{2, 4, 1, 1}));
  EXPECT_THROW(p.at("nope.weight"), Error);
  // state_dict order: registration order, depth first, buffers where the module declared them
  EXPECT_EQ(p.state()[0]->name, "0.conv.weight");
  EXPECT_EQ(p.state()[1]->name, "0.bn_prelu.bn.weight");
  EXPECT_EQ(p.state()[3]->name, "0.bn_prelu.bn.running_mean");
  // arena: reverse declaration order, 64-byte aligned slots, gradients with the same offsets
  EXPECT_EQ(p.params().front()->name, "head.bias");
  EXPECT_EQ(p.params().back()->name, "0.conv.weight");
  int64_t count = 0, prev_end = 0;
  for (Param* q : p.params()) {
    EXPECT_EQ(q->offset % 16, 0) << q->name;
    EXPECT_GE(q->offset, prev_end) << q->name;
    EXPECT_EQ(q->data, p.data() + q->offset);
    EXPECT_EQ(q->grad, p.grad() + q->offset);
    prev_end = q->offset + q->numel;
    count += q->numel;
  }
  EXPECT_EQ(p.count(), count);
  // 3 blocks: conv (cin*4*9), bn (8), prelu (4), fc0 (4*2+2), fc2 (2*4+4); head 2*4+2
  EXPECT_EQ(count, (3 * 36 + 8 + 4 + 10 + 12) + 2 * (4 * 36 + 8 + 4 + 10 + 12) + 10);
  // initial values: PyTorch's defaults
  EXPECT_EQ(p.at("1.bn_prelu.act.weight").data[2], 0.25f);
  EXPECT_EQ(p.at("1.bn_prelu.bn.running_var").data[0], 1.0f);
  const Param& w = p.at("0.conv.weight");
  float bound = 1.0f / std::sqrt(27.0f), mx = 0;
  for (int64_t i = 0; i < w.numel; ++i) mx = std::max(mx, std::abs(w.data[i]));
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.8f * bound);
  // the same seed gives the same values; another seed other values
  Net net2;
  Parameters p2(net2, 1);
  EXPECT_EQ(std::memcmp(p.data(), p2.data(), size_t(p.size()) * 4), 0);
  p2.init(2);
  EXPECT_NE(std::memcmp(p.data(), p2.data(), size_t(p.size()) * 4), 0);
}

TEST(Parameters, DuplicateNamesAreRefused) {
  struct Dup : Module {
    Dup() {
      register_parameter("w", {2}, Init::zeros());
      EXPECT_THROW(register_parameter("w", {2}, Init::zeros()), Error);
      EXPECT_THROW(register_parameter("a.b", {2}, Init::zeros()), Error);
    }
  };
  Dup d;
}

TEST(Graph, InferencePlanReusesMemory) {
  Graph g(nullptr, Graph::Mode::eval);
  Value x = g.input("x", {1, 4, 32, 32});
  Value y = x;
  for (int i = 0; i < 10; ++i) y = i % 2 ? relu(y) : scale(y, 1.5);
  g.compile({y});
  const int64_t one = 4 * 32 * 32 * 4;
  // input + two ping-pong buffers (+ the kept output, which is one of them at the end)
  EXPECT_LE(g.arena_bytes(), 3 * one);
  EXPECT_GE(g.unplanned_bytes(), 11 * one);
  Tensor in = g.tensor(x);
  for (int64_t i = 0; i < in.numel(); ++i) in[i] = float(i % 7) - 3.0f;
  g.forward();
  Tensor out = g.tensor(y);
  for (int64_t i = 0; i < in.numel(); ++i) {
    float v = float(i % 7) - 3.0f;
    for (int k = 0; k < 10; ++k) v = k % 2 ? std::max(v, 0.0f) : v * 1.5f;
    ASSERT_EQ(out[i], v) << i;
  }
  std::vector<float> first(out.begin(), out.end());
  g.forward();  // runs again on the same inputs, same result
  EXPECT_EQ(std::memcmp(first.data(), g.tensor(y).data(), first.size() * 4), 0);
}

TEST(Graph, GradientsAccumulateOverConsumersAndAliases) {
  Graph g(nullptr, Graph::Mode::train);
  Value x = g.input("x", {2, 3, 4, 5}, true);
  // x feeds relu, sigmoid, and (through a reshape alias) a global pool: three gradient contributions
  Value a = relu(x), b = sigmoid(x);
  Value p = global_avg_pool(reshape(x, {2, 3, 4, 5}));  // (2, 3)
  Value s = add(add(a, b), upsample_nearest(reshape(p, {2, 3, 1, 1}), 4, 5));
  g.compile({s}, s);
  Tensor xt = g.tensor(x);
  auto xv = test::random_vec<float>(size_t(xt.numel()), 3);
  std::copy(xv.begin(), xv.end(), xt.data());
  g.forward();
  auto dy = test::random_vec<float>(size_t(xt.numel()), 4);
  g.backward(dy.data());
  Tensor dx = g.grad(x);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c) {
      double mean_dy = 0;
      for (int64_t i = 0; i < 20; ++i) mean_dy += dy[size_t((n * 3 + c) * 20 + i)] / 20.0;
      for (int64_t i = 0; i < 20; ++i) {
        size_t k = size_t((n * 3 + c) * 20 + i);
        float sg = 1.0f / (1.0f + std::exp(-xv[k]));
        double expect = (xv[k] > 0 ? dy[k] : 0) + dy[k] * sg * (1 - sg) + mean_dy;
        ASSERT_NEAR(dx[int64_t(k)], expect, 1e-5) << k;
      }
    }
  // forward values through the alias
  Tensor st = g.tensor(s);
  EXPECT_NEAR(
      st[0],
      std::max(xv[0], 0.0f) + 1 / (1 + std::exp(-xv[0])) +
          [&] {
            double m = 0;
            for (int i = 0; i < 20; ++i) m += xv[size_t(i)];
            return m / 20;
          }(),
      1e-5);
}

// x and the slopes feed PReLU, BatchNorm and BatchNorm+PReLU at once: their gradients must be the
// sums of the three single-consumer gradients (the fused kernels' accumulate paths, checked against
// the kernels' own overwrite paths in separate graphs).
TEST(Graph, FusedNormAndPreluGradientsAccumulateOverConsumers) {
  const std::vector<int64_t> shape{2, 3, 5, 7};
  const auto xv = test::random_vec<float>(2 * 3 * 5 * 7, 11), dyv = test::random_vec<float>(2 * 3 * 5 * 7, 12);
  const std::vector<float> av{0.2f, -0.1f, 0.3f}, gv{1.1f, 0.9f, 1.3f}, bv{0.1f, -0.2f, 0.05f};
  struct Grads {
    std::vector<float> dx, da, dg;
  };
  // mask: bit 0 PReLU, bit 1 BatchNorm, bit 2 BatchNorm+PReLU; outputs summed.
  auto run = [&](int mask) {
    struct Holder : Module {
      BatchNorm2d bn1{3, 1e-3}, bn2{3, 1e-3};
      Holder() { register_module("bn1", bn1), register_module("bn2", bn2); }
    } h;
    Parameters params(h);
    BatchNorm2d &bn1 = h.bn1, &bn2 = h.bn2;
    Graph g(&params, Graph::Mode::train);
    Value x = g.input("x", shape, true), a = g.input("a", {3}, true), gm = g.input("g", {3}, true),
          bt = g.input("b", {3}, true);
    BatchNormOptions o{1e-3, 0.1, false};
    std::vector<Value> outs;
    if (mask & 1) outs.push_back(prelu(x, a));
    if (mask & 2) outs.push_back(batch_norm2d(x, gm, bt, bn1.running_mean(), bn1.running_var(), o));
    if (mask & 4) outs.push_back(batch_norm_prelu(x, gm, bt, a, bn2.running_mean(), bn2.running_var(), o));
    Value s = outs[0];
    for (size_t i = 1; i < outs.size(); ++i) s = add(s, outs[i]);
    g.compile({s}, s);
    std::copy(xv.begin(), xv.end(), g.tensor(x).data());
    std::copy(av.begin(), av.end(), g.tensor(a).data());
    std::copy(gv.begin(), gv.end(), g.tensor(gm).data());
    std::copy(bv.begin(), bv.end(), g.tensor(bt).data());
    g.forward();
    g.backward(dyv.data());
    auto vec = [](const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); };
    const std::vector<float> none(3, 0.0f);
    return Grads{vec(g.grad(x)), (mask & 5) ? vec(g.grad(a)) : none, (mask & 6) ? vec(g.grad(gm)) : none};
  };
  const Grads all = run(7), p = run(1), b = run(2), bp = run(4);
  for (size_t i = 0; i < all.dx.size(); ++i) ASSERT_NEAR(all.dx[i], p.dx[i] + b.dx[i] + bp.dx[i], 1e-5) << i;
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(all.da[c], p.da[c] + bp.da[c], 1e-5) << c;
    EXPECT_NEAR(all.dg[c], b.dg[c] + bp.dg[c], 1e-5) << c;
    EXPECT_NE(p.da[c], 0.0f);  // every piece contributes
    EXPECT_NE(bp.da[c], 0.0f);
  }
}

TEST(Graph, GradReadyHookFiresOncePerParameterWithTheFinalGradient) {
  Net net;
  Parameters params(net, 3);
  struct Unused : Module {
    Unused() { register_parameter("w", {5}, Init::ones()); }
  };
  Graph g(&params, Graph::Mode::train);
  Value x = g.input("x", {2, 3, 6, 8});
  Value labels = g.input_labels("y", {2, 6, 8});
  Value loss = cross_entropy(net.forward(x), labels);
  g.compile({loss}, loss);
  std::map<std::string, std::vector<float>> at_hook;
  std::vector<std::string> order;
  g.on_grad_ready([&](const Param& p) {
    order.push_back(p.name);
    at_hook[p.name] = std::vector<float>(p.grad, p.grad + p.numel);
  });
  auto xv = test::random_vec<float>(size_t(2 * 3 * 6 * 8), 5);
  std::copy(xv.begin(), xv.end(), g.tensor(x).data());
  int32_t* l = g.labels(labels);
  for (int i = 0; i < 2 * 6 * 8; ++i) l[i] = i % 2;
  for (Param* p : params.params()) std::fill(p->grad, p->grad + p->numel, 3.0f);  // stale values must not survive
  g.forward();
  g.backward();
  ASSERT_EQ(order.size(), params.params().size());
  EXPECT_EQ(order.front().rfind("head.", 0), 0u);  // last layer first
  EXPECT_EQ(order.back(), "0.conv.weight");
  std::vector<std::string> expected;
  for (const Param* p : g.grad_ready_order()) expected.push_back(p->name);
  EXPECT_EQ(order, expected);
  for (Param* p : params.params()) {
    const auto& snap = at_hook[p->name];
    ASSERT_EQ(snap.size(), size_t(p->numel));
    EXPECT_EQ(std::memcmp(snap.data(), p->grad, snap.size() * 4), 0) << p->name << " changed after its hook";
    bool nonzero = false;
    for (int64_t i = 0; i < p->numel; ++i) nonzero = nonzero || p->grad[i] != 0;
    EXPECT_TRUE(nonzero) << p->name;
  }
  // Deterministic: the same step twice gives the same bits; accumulate=true adds.
  std::vector<float> g1(params.grad(), params.grad() + params.size());
  g.forward();
  g.backward();
  EXPECT_EQ(std::memcmp(g1.data(), params.grad(), g1.size() * 4), 0);
  g.forward();
  g.backward(nullptr, true);
  for (int64_t i = 0; i < params.size(); ++i) ASSERT_FLOAT_EQ(params.grad()[i], 2 * g1[size_t(i)]) << i;
}

// No op sums in a thread-dependent order: a training step gives the same bits on 1 and 2 threads.
TEST(Graph, GradientsDoNotDependOnTheThreadCount) {
  std::vector<std::vector<float>> grads;
  const int before = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Net net;
    Parameters params(net, 3);
    Graph g(&params, Graph::Mode::train);
    Value x = g.input("x", {2, 3, 10, 12});
    Value labels = g.input_labels("y", {2, 10, 12});
    Value loss = cross_entropy(net.forward(x), labels, {{0.5f, 2.0f}, {}, -100});
    g.compile({loss}, loss);
    auto xv = test::random_vec<float>(size_t(2 * 3 * 10 * 12), 9);
    std::copy(xv.begin(), xv.end(), g.tensor(x).data());
    for (int i = 0; i < 2 * 10 * 12; ++i) g.labels(labels)[i] = (i / 5) % 2;
    g.forward();
    g.backward();
    grads.emplace_back(params.grad(), params.grad() + params.size());
  }
  set_num_threads(before);
  EXPECT_EQ(std::memcmp(grads[0].data(), grads[1].data(), grads[0].size() * 4), 0);
}

// Synchronised BatchNorm: a reducer standing in for two ranks holding the same batch (it doubles
// every sum, count included) must leave outputs and input gradients unchanged, while the running
// variance uses the doubled count (n / (n - 1) correction over 2n values).
TEST(Graph, BatchNormStatsReducerHook) {
  struct TwoRanks : StatsReducer {
    int calls = 0;
    void allreduce_sum(double* data, int64_t n) override {
      ++calls;
      for (int64_t i = 0; i < n; ++i) data[i] *= 2;
    }
  };
  std::vector<std::vector<float>> out, dx, rv;
  int reducer_calls = 0;
  for (bool sync : {false, true}) {
    BnPrelu m(3);
    Parameters params(m);
    Graph g(&params);
    TwoRanks r;
    if (sync) g.set_stats_reducer(&r);
    Value x = g.input("x", {2, 3, 4, 5}, true);
    Value y = m(x);
    g.compile({y}, y);
    auto xv = test::random_vec<float>(120, 11, 2.0);
    std::copy(xv.begin(), xv.end(), g.tensor(x).data());
    g.forward();
    auto seed = test::random_vec<float>(120, 12);
    g.backward(seed.data());
    out.emplace_back(g.tensor(y).begin(), g.tensor(y).end());
    dx.emplace_back(g.grad(x).begin(), g.grad(x).end());
    rv.emplace_back(m.bn.running_var().tensor().begin(), m.bn.running_var().tensor().end());
    reducer_calls = r.calls;
  }
  EXPECT_EQ(reducer_calls, 2);  // one in forward, one in backward
  EXPECT_LE(test::rel_max_error(out[1].data(), out[0].data(), 120), 1e-6);
  EXPECT_LE(test::rel_max_error(dx[1].data(), dx[0].data(), 120), 1e-5);
  for (int ch = 0; ch < 3; ++ch) {
    // running_var = 0.9 + 0.1 * var * M / (M - 1): M = 40 locally, 80 with the reducer
    const double var_local = (rv[0][size_t(ch)] - 0.9) / 0.1 * 39.0 / 40.0;
    EXPECT_NEAR(rv[1][size_t(ch)], 0.9 + 0.1 * var_local * 80.0 / 79.0, 1e-5);
  }
}

TEST(Graph, ParametersTheLossDoesNotReachAreZeroedAndReportedFirst) {
  struct Two : Module {
    Two() {
      register_module("used", used);
      register_module("unused", unused);
    }
    Linear used{3, 2}, unused{3, 2};
  } m;
  Parameters params(m);
  Graph g(&params, Graph::Mode::train);
  Value x = g.input("x", {4, 3});
  Value out = m.used(x);
  Value loss = global_avg_pool(reshape(out, {1, 1, 4, 2}));
  g.compile({loss}, reshape(loss, {1}));
  std::vector<std::string> order;
  g.on_grad_ready([&](const Param& p) { order.push_back(p.name); });
  std::fill(params.grad(), params.grad() + params.size(), 5.0f);
  g.forward();
  g.backward();
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0].rfind("unused.", 0), 0u);
  EXPECT_EQ(order[1].rfind("unused.", 0), 0u);
  for (float v : params.at("unused.weight").grad_tensor()) EXPECT_EQ(v, 0.0f);
  // d mean(x W^T + b) / d b = 1/2 per output (mean over 4 x 2)
  for (float v : params.at("used.bias").grad_tensor()) EXPECT_FLOAT_EQ(v, 0.5f);
}

TEST(Graph, DropoutIsIdentityInEvalAndConsistentInTraining) {
  Graph ev(nullptr, Graph::Mode::eval);
  Value xe = ev.input("x", {1, 1000});
  EXPECT_EQ(dropout(xe, 0.3).id(), xe.id());
  Graph g(nullptr, Graph::Mode::train);
  Value x = g.input("x", {4, 5000}, true);
  Value y = dropout(x, 0.3);
  g.compile({y}, y);
  g.tensor(x).fill(2.0f);
  g.forward();
  Tensor yt = g.tensor(y);
  int64_t zeros = 0;
  for (float v : yt) {
    ASSERT_TRUE(v == 0.0f || std::abs(v - 2.0f / 0.7f) < 1e-5f) << v;
    zeros += v == 0.0f;
  }
  EXPECT_NEAR(double(zeros) / double(yt.numel()), 0.3, 0.02);
  std::vector<float> first(yt.begin(), yt.end());
  std::vector<float> seed(size_t(yt.numel()), 1.0f);
  g.backward(seed.data());
  Tensor dx = g.grad(x);
  for (int64_t i = 0; i < yt.numel(); ++i) ASSERT_FLOAT_EQ(dx[i], yt[i] / 2.0f) << i;
  g.forward();  // a new mask each step
  EXPECT_NE(std::memcmp(first.data(), g.tensor(y).data(), first.size() * 4), 0);
}

TEST(Graph, ErrorsNameTheValues) {
  Graph g(nullptr, Graph::Mode::train);
  Value x = g.input("image", {2, 3, 8, 8});
  Value w = g.input("kernel", {4, 2, 3, 3});
  try {
    conv2d(x, w);
    FAIL() << "mismatched conv accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kernel"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("image"), std::string::npos) << e.what();
  }
  EXPECT_THROW(add(x, g.input("other", {2, 3, 8, 7})), Error);
  Value labels = g.input_labels("labels", {2, 8, 9});
  EXPECT_THROW(cross_entropy(x, labels), Error);
  Value h = relu(x);
  Value o = relu(h);
  g.compile({o});
  EXPECT_THROW(g.tensor(h), Error);
  EXPECT_THROW(relu(o), Error);  // compiled graphs are closed
  EXPECT_THROW(g.backward(), Error);
  Graph other(nullptr);
  EXPECT_THROW(add(x, other.input("z", {2, 3, 8, 8})), Error);
}

TEST(Graph, LossReportsBadLabels) {
  Graph g(nullptr, Graph::Mode::train);
  Value x = g.input("x", {1, 3, 2, 2}, true);
  Value y = g.input_labels("y", {1, 2, 2});
  Value loss = cross_entropy(x, y);
  g.compile({loss}, loss);
  int32_t* l = g.labels(y);
  l[0] = 0, l[1] = 1, l[2] = 7, l[3] = 2;
  try {
    g.forward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 7 at sample 0, row 1, column 0"), std::string::npos) << e.what();
  }
}

// An eval graph with batch statistics (predict --batchnorm batch) normalises as a train graph does,
// worked by hand on a (1, 2, 2, 2) input, and leaves the running statistics as they were; a plain
// eval graph uses the running ones.
TEST(Graph, EvalGraphWithBatchStatisticsNormalisesByTheInput) {
  BatchNorm2d bn(2, 1e-5);
  Parameters params(bn);
  bn.running_mean().data[0] = 5.0f;
  bn.running_var().data[0] = 4.0f;
  const std::vector<float> xv = {1, 2, 3, 4, 10, 10, 10, 30};  // channel 0: mean 2.5, var 1.25
  auto run = [&](Graph::Mode mode, bool batch) {
    Graph g(&params, mode);
    g.set_batch_norm_batch_stats(batch);
    Value x = g.input("x", {1, 2, 2, 2});
    Value y = bn(x);
    g.compile({y});
    std::copy(xv.begin(), xv.end(), g.tensor(x).data());
    g.forward();
    Tensor t = g.tensor(y);
    return std::vector<float>(t.data(), t.data() + t.numel());
  };
  const std::vector<float> eval_batch = run(Graph::Mode::eval, true);
  EXPECT_NEAR(eval_batch[0], (1 - 2.5) / std::sqrt(1.25 + 1e-5), 1e-5);
  EXPECT_NEAR(eval_batch[7], (30 - 15) / std::sqrt(75 + 1e-5), 1e-5);  // channel 1: mean 15, var 75
  EXPECT_EQ(bn.running_mean().data[0], 5.0f);                          // untouched
  EXPECT_EQ(bn.running_var().data[0], 4.0f);
  const std::vector<float> eval_running = run(Graph::Mode::eval, false);
  EXPECT_NEAR(eval_running[0], (1 - 5) / std::sqrt(4 + 1e-5), 1e-5);
  const std::vector<float> train = run(Graph::Mode::train, false);
  for (size_t k = 0; k < xv.size(); ++k) EXPECT_NEAR(eval_batch[k], train[k], 1e-6) << k;
  EXPECT_NE(bn.running_mean().data[0], 5.0f);  // a train graph updates them
}

// The fusion tests' helpers: parameters at random (seeded per tensor, running variances positive),
// occurrences of a marker in a graph summary, and the folded and plain graphs' outputs compared bit
// for bit.
void randomise(Parameters& params, uint64_t seed) {
  for (Param* p : params.state()) {
    const auto v = test::random_vec<float>(static_cast<size_t>(p->numel), ++seed, 0.5);
    const bool var = p->name.find("running_var") != std::string::npos;
    for (int64_t i = 0; i < p->numel; ++i) p->data[i] = var ? 0.5f + std::abs(v[static_cast<size_t>(i)]) : v[size_t(i)];
  }
}
int occurrences(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}
void expect_same_bits(const std::vector<float>& folded, const std::vector<float>& plain, const std::string& where) {
  ASSERT_EQ(folded.size(), plain.size()) << where;
  for (size_t i = 0; i < plain.size(); ++i)
    ASSERT_EQ(std::memcmp(&folded[i], &plain[i], 4), 0)
        << where << " at " << i << ": " << folded[i] << " against " << plain[i];
}

// Inference fusion (Graph::set_fusion) on a CGNet-shaped graph: conv -> BN+PReLU, 1x1 conv ->
// BN+PReLU, a depthwise pair (dilations 1 and 2) concatenated -> BN + one PReLU slope, a concat with a
// pooled input -> BN+PReLU (its inputs cannot take it: the pool), a strided conv with bias -> BN alone
// (the output). Folded, every norm runs in its convolutions' epilogues, the pair writes straight into
// the concat's buffer (two images: at the concat's image stride), and the pooled concat normalises
// as it copies; the output is bit for bit the unfolded graph's, with random statistics, scales,
// shifts and slopes.
TEST(Graph, FoldedNormsGiveTheUnfoldedResultsBitForBit) {
  struct Cg : Module {
    Conv2d c0{5, 8, 3, Conv2dOptions().pad(Padding::circular(1)), false};
    BnPrelu n0{8, 1e-3};
    Conv2d c1{8, 6, 1, Conv2dOptions(), false};
    BnPrelu n1{6, 1e-3};
    Conv2d loc{6, 6, 3, Conv2dOptions().pad(Padding::circular(1)).group_count(6), false};
    Conv2d sur{6, 6, 3, Conv2dOptions().pad(Padding::circular(2)).dilation(2).group_count(6), false};
    BatchNorm2d bn2{12, 1e-3};
    PReLU act2{1};
    BnPrelu n3{17, 1e-3};
    Conv2d down{17, 4, 3, Conv2dOptions().stride(2).pad(Padding::zeros(1)), true};
    BatchNorm2d bn4{4, 1e-3};
    Cg() {
      register_module("c0", c0), register_module("n0", n0), register_module("c1", c1), register_module("n1", n1);
      register_module("loc", loc), register_module("sur", sur), register_module("bn2", bn2);
      register_module("act2", act2), register_module("n3", n3), register_module("down", down);
      register_module("bn4", bn4);
    }
    Value forward(Value x) {
      Value y = n1(c1(n0(c0(x))));
      Value joint = batch_norm_prelu(bn2, act2, concat({loc(y), sur(y)}));
      return bn4(down(n3(concat({joint, avg_pool2d(x, 3, 1, Padding::circular(1))}))));
    }
  } net;
  Parameters params(net);
  randomise(params, 40);
  for (const Shape& shape : {Shape{2, 5, 12, 40}, Shape{1, 5, 9, 13}}) {
    const auto xv = test::random_vec<float>(static_cast<size_t>(shape_numel(shape)), 7);
    auto run = [&](bool fusion, std::string* summary) {
      Graph g(&params, Graph::Mode::eval);
      g.set_fusion(fusion);
      Value x = g.input("x", shape);
      Value out = net.forward(x);
      g.compile({out});
      std::copy(xv.begin(), xv.end(), g.tensor(x).data());
      g.forward();
      g.forward();  // twice: nothing depends on the arena's previous contents
      *summary = g.summary();
      Tensor t = g.tensor(out);
      return std::vector<float>(t.data(), t.data() + t.numel());
    };
    std::string folded_summary, plain_summary;
    const std::vector<float> folded = run(true, &folded_summary), plain = run(false, &plain_summary);
    // n0, n1, the pair's concat and bn2, n3, bn4 never run; c0, c1, loc, sur, the pooled concat and
    // down take the norms.
    EXPECT_EQ(occurrences(folded_summary, "(folded"), 6) << folded_summary;
    EXPECT_EQ(occurrences(folded_summary, "+ batch norm"), 6) << folded_summary;
    EXPECT_EQ(occurrences(plain_summary, "fold"), 0) << plain_summary;
    expect_same_bits(folded, plain, shape_str(shape));
  }
}

// bf16 convolutions (reduction >= kBf16MinReduction) take a folded norm too: their fp32 sums go
// through the same epilogue, bit for bit the bf16 graph without fusion.
TEST(Graph, FoldedNormsInBf16GiveTheUnfoldedResultsBitForBit) {
  if (!cpu_has_avx512_bf16() || active_isa() != Isa::avx512) GTEST_SKIP() << "no AVX512-BF16 kernels here";
  struct Net : Module {
    Conv2d c0{36, 8, 3, Conv2dOptions().pad(Padding::circular(1)), false};  // k = 324: bf16
    BnPrelu n0{8, 1e-3};
    Net() { register_module("c0", c0), register_module("n0", n0); }
    Value forward(Value x) { return n0(c0(x)); }
  } net;
  Parameters params(net);
  randomise(params, 90);
  const Shape shape{2, 36, 10, 50};
  const auto xv = test::random_vec<float>(static_cast<size_t>(shape_numel(shape)), 17);
  auto run = [&](bool fusion, std::string* summary) {
    Graph g(&params, Graph::Mode::eval);
    g.set_precision(Precision::bf16);
    g.set_fusion(fusion);
    Value x = g.input("x", shape);
    Value out = net.forward(x);
    g.compile({out});
    std::copy(xv.begin(), xv.end(), g.tensor(x).data());
    g.forward();
    *summary = g.summary();
    Tensor t = g.tensor(out);
    return std::vector<float>(t.data(), t.data() + t.numel());
  };
  std::string folded_summary, plain_summary;
  const std::vector<float> folded = run(true, &folded_summary), plain = run(false, &plain_summary);
  EXPECT_NE(folded_summary.find("bf16"), std::string::npos) << folded_summary;
  EXPECT_NE(folded_summary.find("+ batch norm"), std::string::npos) << folded_summary;
  EXPECT_EQ(plain_summary.find("fold"), std::string::npos) << plain_summary;
  expect_same_bits(folded, plain, "bf16");
}

// Inference fusion of CGNet's gated residuals: add(a, scale_channels(x, g)) with the scaled value read
// by the add alone runs as one pass (either input order); a scale_channels read twice, or one that is
// a graph output, stays. Bit for bit the unfused graph's outputs.
TEST(Graph, FoldedGatesGiveTheUnfoldedResultsBitForBit) {
  struct Gated : Module {
    Conv2d c0{4, 6, 3, Conv2dOptions().pad(Padding::circular(1)), true};
    Gated() { register_module("c0", c0); }
    std::vector<Value> forward(Value x6, Value x4) {
      Value z = c0(x4);
      Value g = sigmoid(global_avg_pool(z));
      Value r1 = add(x6, scale_channels(z, g));   // folded
      Value r2 = add(scale_channels(r1, g), r1);  // folded (the scaled input first)
      Value twice = scale_channels(z, g);         // read twice: stays
      Value r3 = add(add(twice, r2), twice);
      Value kept = scale_channels(r3, g);  // a graph output: stays
      return {add(kept, r3), kept};
    }
  } net;
  Parameters params(net);
  randomise(params, 70);  // (no running statistics)
  const auto x6 = test::random_vec<float>(2 * 6 * 7 * 11, 8), x4 = test::random_vec<float>(2 * 4 * 7 * 11, 9);
  auto run = [&](bool fusion, std::string* summary) {
    Graph g(&params, Graph::Mode::eval);
    g.set_fusion(fusion);
    Value in6 = g.input("x6", Shape{2, 6, 7, 11}), in4 = g.input("x4", Shape{2, 4, 7, 11});
    std::vector<Value> outs = net.forward(in6, in4);
    g.compile(outs);
    std::copy(x6.begin(), x6.end(), g.tensor(in6).data());
    std::copy(x4.begin(), x4.end(), g.tensor(in4).data());
    g.forward();
    *summary = g.summary();
    std::vector<float> all;
    for (const Value& o : outs) {
      Tensor t = g.tensor(o);
      all.insert(all.end(), t.data(), t.data() + t.numel());
    }
    return all;
  };
  std::string folded_summary, plain_summary;
  const std::vector<float> folded = run(true, &folded_summary), plain = run(false, &plain_summary);
  EXPECT_EQ(occurrences(folded_summary, "(folded into the add that reads it)"), 2) << folded_summary;
  EXPECT_EQ(occurrences(folded_summary, "+ scale_channels (folded)"), 2) << folded_summary;
  EXPECT_EQ(occurrences(plain_summary, "fold"), 0) << plain_summary;
  expect_same_bits(folded, plain, "gates");
}

// The roofline of a step (bench train/predict): a profiled graph's nodes become ops whose flops and
// minimal bytes are counted here by hand, and the step's roofline sums max(flops / compute roof,
// bytes / copy roof) over them.
TEST(StepRoofline, CountsAConvAndAnAddByHand) {
  struct Net : Module {
    Net() {
      register_module("conv", conv);
      register_module("dw", dw);
    }
    Conv2d conv{3, 5, 3, Conv2dOptions().pad(Padding::circular(1)), false};
    Conv2d dw{5, 5, 3, Conv2dOptions().stride(2).group_count(5).pad(Padding::zeros(1)), false};
  } net;
  Parameters params(net, 1);
  Graph g(&params, Graph::Mode::train);
  Value x = g.input("x", {2, 3, 8, 10});  // no gradient: the conv's backward computes dW only
  Value labels = g.input_labels("y", {2, 4, 5});
  Value loss = cross_entropy(net.dw(add(net.conv(x), net.conv(x))), labels);
  g.compile({loss}, loss);
  std::fill(g.labels(labels), g.labels(labels) + 40, 1);
  g.set_profiling(true);
  g.forward();
  g.backward();
  const std::vector<StepOp> ops = step_ops(g.profile(), 1);
  std::map<std::string, StepOp> by;
  for (const StepOp& o : ops) by[o.kind + " " + o.pass] = o;
  // conv 3->5, 3x3, stride 1 on 2x3x8x10: 2 flops x (2*5*8*10 outputs) x (3*9 taps); reads x (480
  // floats), writes y (800 floats). Backward: dW only (x needs no gradient): a forward's flops,
  // reads x and dy. (The node is used twice: one op, as the graph builds it once per call.)
  ASSERT_TRUE(by.count("conv2d fwd") && by.count("conv2d bwd"));
  EXPECT_EQ(by["conv2d fwd"].shape, "2x3x8x10 k3 s1 d1 ->5 circular");
  EXPECT_DOUBLE_EQ(by["conv2d fwd"].flops, 2.0 * 800 * 27);
  EXPECT_DOUBLE_EQ(by["conv2d fwd"].bytes, 4.0 * (480 + 800));
  EXPECT_DOUBLE_EQ(by["conv2d bwd"].flops, 2.0 * 800 * 27);
  EXPECT_DOUBLE_EQ(by["conv2d bwd"].bytes, 4.0 * (480 + 800));
  // depthwise 3x3 stride 2 on 2x5x8x10 -> 2x5x4x5: 2 flops x 200 outputs x 9 taps; reads 800 floats,
  // writes 200. Backward: dx and dW (a forward's flops each), reads x and dy, writes dx.
  ASSERT_TRUE(by.count("depthwise fwd") && by.count("depthwise bwd"));
  EXPECT_EQ(by["depthwise fwd"].shape, "2x5x8x10 k3 s2 d1 zeros");
  EXPECT_DOUBLE_EQ(by["depthwise fwd"].flops, 2.0 * 200 * 9);
  EXPECT_DOUBLE_EQ(by["depthwise fwd"].bytes, 4.0 * (800 + 200));
  EXPECT_DOUBLE_EQ(by["depthwise bwd"].flops, 2 * 2.0 * 200 * 9);
  EXPECT_DOUBLE_EQ(by["depthwise bwd"].bytes, 4.0 * (800 + 200 + 800));
  // add(y, y): reads both inputs, writes one output; backward reads dy, writes both gradients.
  ASSERT_TRUE(by.count("add fwd") && by.count("add bwd"));
  EXPECT_DOUBLE_EQ(by["add fwd"].flops, 0.0);
  EXPECT_DOUBLE_EQ(by["add fwd"].bytes, 4.0 * 3 * 800);
  EXPECT_DOUBLE_EQ(by["add bwd"].bytes, 4.0 * 3 * 800);
  for (const StepOp& o : ops) EXPECT_GE(o.seconds, 0.0) << o.kind;

  // Against roofs of 100 GFLOP/s and 10 GB/s the conv's forward takes 43200 / 1e11 = 0.432 us of
  // arithmetic and 5120 / 1e10 = 0.512 us of traffic: memory-bound, 0.512 us.
  std::vector<StepOp> two = {by["conv2d fwd"], adam_step_op(1000, 2e-6)};
  two[0].seconds = 1e-6;
  EXPECT_DOUBLE_EQ(two[1].bytes, 28000.0);
  const nlohmann::json r = step_roofline_json(two, 4e-6, 100.0, 10.0, 1);
  EXPECT_DOUBLE_EQ(r["ops"][0]["roofline_s"].get<double>(), 5.12e-7);
  EXPECT_EQ(r["ops"][0]["bound"], "memory");
  EXPECT_DOUBLE_EQ(r["ops"][1]["roofline_s"].get<double>(), 2.8e-6);
  EXPECT_DOUBLE_EQ(r["seconds"].get<double>(), 5.12e-7 + 2.8e-6);
  EXPECT_DOUBLE_EQ(r["fraction"].get<double>(), (5.12e-7 + 2.8e-6) / 4e-6);
  EXPECT_DOUBLE_EQ(r["other_s"].get<double>(), 4e-6 - 3e-6);
  ASSERT_EQ(r["top"].size(), 1u);  // the conv loses 0.488 us, Adam 0 (negative: -0.8 us)
  EXPECT_EQ(r["top"][0]["kind"], "conv2d");
  EXPECT_DOUBLE_EQ(r["top"][0]["lost_s"].get<double>(), 1e-6 - 5.12e-7);
  // With 1000 GB/s the conv is compute-bound.
  EXPECT_EQ(step_roofline_json(two, 4e-6, 100.0, 1000.0)["ops"][0]["bound"], "compute");
}

}  // namespace
}  // namespace climseg::nn
