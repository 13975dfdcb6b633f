// A small network (Conv-BN-PReLU layers with circular padding, a depthwise dilated conv, a
// squeeze-excitation gate, a skip and a concat) trained 20 steps with Adam from PyTorch's initial
// weights: the loss curve and the final weights and running statistics match PyTorch's
// (tests/data/nn/train.h5) within 1e-4.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/h5.hpp"
#include "nn/checkpoint.hpp"
#include "nn/layers.hpp"
#include "nn/optim.hpp"
#include "nn_test_util.hpp"

namespace climseg::nn {
namespace {

struct ConvBnAct : Module {
  ConvBnAct(int64_t cin, int64_t cout, int64_t stride)
      : conv(cin, cout, 3, Conv2dOptions().stride(stride).pad(Padding::circular(1)), false), bn(cout, 1e-3), act(cout) {
    register_module("conv", conv);
    register_module("bn", bn);
    register_module("act", act);
  }
  Value forward(Value x) { return batch_norm_prelu(bn, act, conv(x)); }
  Conv2d conv;
  BatchNorm2d bn;
  PReLU act;
};

struct Fc : Module {
  Fc() {
    register_module("0", l0);
    register_module("2", l2);
  }
  Value forward(Value x) { return sigmoid(l2(relu(l0(x)))); }
  Linear l0{8, 4}, l2{4, 8};
};

struct SmallNet : Module {
  SmallNet() {
    register_module("c1", c1);
    register_module("c2", c2);
    register_module("dw", dw);
    register_module("fc", fc);
    register_module("bn_prelu", bn_prelu);
    register_module("classifier", classifier);
  }
  Value forward(Value x) {
    Value b = c2.forward(c1.forward(x));
    Value d = dw(b);
    Value s = add(b, scale_channels(d, fc.forward(global_avg_pool(d))));
    Value j = bn_prelu(concat({s, b}));
    return upsample_bilinear(classifier(j), x.dim(2), x.dim(3), false);
  }
  ConvBnAct c1{3, 8, 1}, c2{8, 8, 2};
  Conv2d dw{8, 8, 3, Conv2dOptions().dilation(2).group_count(8).pad(Padding::circular(2)), false};
  Fc fc;
  BnPrelu bn_prelu{16, 1e-3};
  Conv2d classifier{16, 3, 1};
};

TEST(TrainVsTorch, TwentyAdamStepsMatchLossCurveAndWeights) {
  h5::File f = h5::File::open(test::nn_data("train.h5"));
  SmallNet net;
  Parameters params(net, 99);
  LoadReport rep = load_state_dict(params, read_state_dict(f.open_group("init")), true, "train.h5:/init");
  EXPECT_TRUE(rep.ok()) << rep.message();
  auto cw = nlohmann::json::parse(f.attr_string("class_weights")).get<std::vector<float>>();
  const double lr = f.attr_double("lr");

  Graph g(&params, Graph::Mode::train);
  Value x = g.input("x", {2, 3, 12, 16});
  Value y = g.input_labels("y", {2, 12, 16});
  Value loss = cross_entropy(net.forward(x), y, {cw, {}, -100});
  g.compile({loss}, loss);
  Adam opt(params, AdamOptions{});
  std::vector<double> want = f.read_doubles("loss");
  ASSERT_EQ(want.size(), 20u);
  for (size_t s = 0; s < want.size(); ++s) {
    f.read_into("x" + std::to_string(s), g.tensor(x).data(), x.shape());
    std::vector<int64_t> labels = f.read_int64s("y" + std::to_string(s));
    for (size_t i = 0; i < labels.size(); ++i) g.labels(y)[i] = int32_t(labels[i]);
    g.forward();
    EXPECT_NEAR(g.scalar(loss), want[s], 1e-4) << "step " << s;
    g.backward();
    opt.step(lr);
  }
  StateDict final_sd = read_state_dict(f.open_group("final"));
  ASSERT_EQ(final_sd.size(), params.state().size());
  double worst = 0;
  std::string worst_name;
  for (const Param* p : params.state()) {
    const Tensor& t = final_sd.at(p->name);
    for (int64_t i = 0; i < p->numel; ++i) {
      double e = std::abs(double(p->data[i]) - double(t[i]));
      if (e > worst) worst = e, worst_name = p->name;
    }
  }
  EXPECT_LE(worst, 1e-4) << "largest difference in " << worst_name;
}

}  // namespace
}  // namespace climseg::nn
