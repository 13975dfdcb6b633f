// A small CGNet (M=2, N=3, circular padding) trained with weighted cross-entropy follows PyTorch
// step by step: the same Adam loss curve, and with SGD+momentum the same losses and the same
// weights and running statistics afterwards (tests/reference/nets/make_cgnet_train_reference.py).
// Adam's final weights are not compared: for elements whose gradient is ~1e-7 its update is about
// lr * sign(g), so float rounding alone moves them by up to 2 lr per step.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "core/h5.hpp"
#include "models/nets/cgnet.hpp"
#include "nn/optim.hpp"
#include "test_support.hpp"

using namespace climseg;

namespace {

// The Python script's initial_value(): sin waves with a per-name phase, in float64 then float32.
void set_initial_value(nn::Param& p) {
  const std::string& name = p.name;
  double phase = 0;
  for (unsigned char ch : name) phase += ch;
  phase *= 0.01;
  auto ends = [&](const std::string& s) { return name.size() >= s.size() && name.rfind(s) == name.size() - s.size(); };
  for (int64_t i = 0; i < p.numel; ++i) {
    const double wave = std::sin(0.7 * double(i) + phase);
    double v;
    if (ends("running_mean"))
      v = 0;
    else if (ends("running_var"))
      v = 1;
    else if (ends("act.weight"))
      v = 0.25 + 0.1 * wave;
    else if (ends("bn.weight"))
      v = 1.0 + 0.1 * wave;
    else if (ends("bn.bias"))
      v = 0.0 + 0.1 * wave;
    else if (p.shape.size() >= 2)
      v = wave * (1.5 / std::sqrt(double(p.numel / p.shape[0])));
    else
      v = 0.05 * wave;
    p.data[i] = static_cast<float>(v);
  }
}

// Trains a small CGNet from the deterministic initial weights on the reference batch with the
// optimizer make_opt builds; returns the loss of each step.
template <class MakeOpt>
std::vector<float> train(const h5::File& ref, nets::CGNet& net, nn::Parameters& params, MakeOpt make_opt, double lr,
                         size_t steps) {
  for (nn::Param* p : params.state()) set_initial_value(*p);
  Tensor x = ref.read_tensor("x");  // (2, 4, 32, 48)
  std::vector<int64_t> labels = ref.read_int64s("labels");
  std::vector<double> cw = ref.read_doubles("class_weights");
  nn::Graph g(&params, nn::Graph::Mode::train);
  nn::Value xv = g.input("x", x.shape());
  nn::Value yv = g.input_labels("y", {2, 32, 48});
  nn::LossOptions lo;
  lo.class_weights.assign(cw.begin(), cw.end());
  nn::Value loss = nn::cross_entropy(net.forward(xv), yv, lo);
  g.compile({loss}, loss);
  g.tensor(xv).copy_from(x);
  int32_t* y = g.labels(yv);
  for (size_t i = 0; i < labels.size(); ++i) y[i] = static_cast<int32_t>(labels[i]);
  auto opt = make_opt(params);
  std::vector<float> losses;
  for (size_t s = 0; s < steps; ++s) {
    g.forward();
    g.backward();
    losses.push_back(g.scalar(loss));
    opt->step(lr);
  }
  return losses;
}

nets::NetConfig small_config() {
  nets::NetConfig cfg;
  cfg.params["M"] = 2;
  cfg.params["N"] = 3;
  return cfg;
}

}  // namespace

TEST(CGNetTraining, AdamLossCurveMatchesPyTorch) {
  h5::File ref = h5::File::open(test::test_data() / "nets" / "cgnet_train_ref.h5");
  h5::Group adam = ref.open_group("adam");
  std::vector<double> expected = adam.read_doubles("losses");
  nets::CGNet net(small_config());
  nn::Parameters params(net);
  auto losses = train(
      ref, net, params, [](nn::Parameters& p) { return std::make_unique<nn::Adam>(p, nn::AdamOptions{}); },
      adam.attr_double("lr"), expected.size());
  // 1e-4 absolute plus 0.1% relative: summation order (vectorised or not: -O2 against the sanitizer
  // build's -O1) moves Adam's trajectory by up to 4.6e-4 on a loss of 0.63 after a few steps, while
  // a wrong gradient is off by 1e-2 or more by the second step.
  for (size_t s = 0; s < expected.size(); ++s)
    EXPECT_NEAR(losses[s], expected[s], 1e-4 + 1e-3 * std::abs(expected[s])) << "step " << s;
}

TEST(CGNetTraining, SgdMomentumLossesAndWeightsMatchPyTorch) {
  h5::File ref = h5::File::open(test::test_data() / "nets" / "cgnet_train_ref.h5");
  h5::Group sgd = ref.open_group("sgd");
  std::vector<double> expected = sgd.read_doubles("losses");
  nets::CGNet net(small_config());
  nn::Parameters params(net);
  const double momentum = sgd.attr_double("momentum");
  auto losses = train(
      ref, net, params,
      [&](nn::Parameters& p) {
        nn::SgdOptions o;
        o.momentum = momentum;
        return std::make_unique<nn::Sgd>(p, o);
      },
      sgd.attr_double("lr"), expected.size());
  for (size_t s = 0; s < expected.size(); ++s) EXPECT_NEAR(losses[s], expected[s], 1e-4) << "step " << s;
  h5::Group fin = sgd.open_group("final");
  int checked = 0;
  for (nn::Param* p : params.state()) {
    Tensor want = fin.read_tensor(p->name);
    ASSERT_EQ(want.numel(), p->numel) << p->name;
    double worst = 0;
    // Absolute for weights (|w| < 1), relative for running variances (up to ~3).
    for (int64_t i = 0; i < p->numel; ++i)
      worst = std::max(worst, double(std::abs(p->data[i] - want[i])) / std::max(1.0, double(std::abs(want[i]))));
    EXPECT_LE(worst, 1e-4) << p->name;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(fin.members().size()));
}
