// U-Net and DeepLabv3+ build from their configs and learn a toy task; CGNet (checked against
// PyTorch in test_cgnet_training.cpp) accepts any size; bad configs are refused with the key named.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "models/nets/network.hpp"
#include "nn/optim.hpp"

using namespace climseg;
using nlohmann::json;

namespace {

// Loss after `steps` Adam steps on a fixed input whose label is "x0 > 0" for a smooth x0 (blobs a
// few cells across, which every network can resolve at its output stride); starting loss first.
std::pair<float, float> fit(nets::Network& net, int64_t H, int64_t W, int steps, double lr = 3e-3) {
  nn::Parameters params(net, 7);
  nn::Graph g(&params, nn::Graph::Mode::train);
  nn::Value x = g.input("x", {2, net.config().in_channels(), H, W});
  nn::Value y = g.input_labels("y", {2, H, W});
  nn::Value loss = nn::cross_entropy(net.forward(x), y);
  g.compile({loss}, loss);
  Tensor xt = g.tensor(x);
  int32_t* yt = g.labels(y);
  const int64_t C = net.config().in_channels();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        const double pi = 3.14159265358979;
        float v =
            float(std::cos(2 * pi * double(i) / double(H) * 2) * std::cos(2 * pi * double(j + 3 * n) / double(W) * 2));
        for (int64_t c = 0; c < C; ++c) xt[((n * C + c) * H + i) * W + j] = c == 0 ? v : 0.5f * v * v;
        yt[(n * H + i) * W + j] = v > 0 ? 1 : 0;
      }
  nn::Adam opt(params, {});
  float first = 0, last = 0;
  for (int s = 0; s < steps; ++s) {
    g.forward();
    g.backward();
    if (s == 0) first = g.scalar(loss);
    last = g.scalar(loss);
    opt.step(lr);
  }
  return {first, last};
}

}  // namespace

TEST(Networks, UNetLearnsAToyTask) {
  auto cfg = nets::NetConfig::from_json(json::parse(
      R"({"type":"unet","channels":["a","b"],"classes":["no","yes"],"padding":"spherical","depth":2,"width":8})"));
  auto net = nets::make_network(cfg);
  EXPECT_EQ(net->size_multiple(), 4);
  auto [first, last] = fit(*net, 16, 24, 30);
  EXPECT_LT(last, 0.5f * first) << first << " -> " << last;
}

TEST(Networks, DeepLabLearnsAToyTaskAtBothOutputStrides) {
  for (int os : {16, 8}) {
    json j = json::parse(
        R"({"type":"deeplabv3plus","channels":["a","b"],"classes":["no","yes"],"padding":"spherical","width":8,"blocks":[1,1,1,1],"low_level_channels":8})");
    j["output_stride"] = os;
    auto net = nets::make_network(nets::NetConfig::from_json(j));
    EXPECT_EQ(net->size_multiple(), os);
    auto [first, last] = fit(*net, 32, 48, 30);
    EXPECT_LT(last, 0.6f * first) << "output stride " << os << ": " << first << " -> " << last;
  }
}

TEST(Networks, CGNetBuildsWithSphericalPaddingAtAnySize) {
  // CGNet's strides round up (ceil(H/2) three times) and the head upsamples to the input size.
  auto cfg = nets::NetConfig::from_json(
      json::parse(R"({"type":"cgnet","channels":["a","b"],"classes":["no","yes"],"padding":"spherical","M":2,"N":2})"));
  auto net = nets::make_network(cfg);
  nn::Parameters params(*net);
  nn::Graph g(&params, nn::Graph::Mode::eval);
  nn::Value x = g.input("x", {1, 2, 27, 45});
  nn::Value y = net->forward(x);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 27, 45}));
}

TEST(Networks, BadConfigsNameTheKey) {
  auto expect_usage = [](const char* text, const char* needle) {
    try {
      auto cfg = nets::NetConfig::from_json(json::parse(text));
      nets::make_network(cfg);
      ADD_FAILURE() << "accepted " << text;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_usage(R"({"type":"resnet"})", "unknown type 'resnet'");
  expect_usage(R"({"type":"cgnet","classes":["only"]})", "classes");
  expect_usage(R"({"type":"cgnet","padding":"mirror"})", "unknown padding 'mirror'");
  expect_usage(R"({"type":"unet","depth":"four"})", "'depth' must be an integer");
  expect_usage(R"({"type":"deeplabv3plus","output_stride":32})", "output_stride must be 16 or 8");
  expect_usage(R"({"type":"cgnet","channels":"TMQ"})", "'channels' has the wrong type");
}
