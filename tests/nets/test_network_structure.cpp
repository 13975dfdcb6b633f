// The structure the issue asks of DeepLabv3+ and U-Net, read back from the built modules: ASPP
// dilation rates per output stride, an image-pooling branch that runs at sizes that are not
// multiples of the stride, the decoder's low-level skip, output size = input size, and U-Net's
// parameter count for a depth and width counted by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "models/nets/deeplab.hpp"
#include "models/nets/network.hpp"
#include "models/nets/unet.hpp"

using namespace climseg;
using nlohmann::json;

namespace {

// Every Conv2d of the model by its dotted module path.
std::map<std::string, const nn::Conv2d*> convs(nn::Module& root) {
  std::map<std::string, const nn::Conv2d*> out;
  root.visit_modules([&](const std::string& path, nn::Module& m) {
    if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) out[path] = c;
  });
  return out;
}

std::unique_ptr<nets::Network> deeplab(int output_stride) {
  json j = json::parse(
      R"({"type":"deeplabv3plus","channels":["a","b","c"],"classes":["x","y","z"],"padding":"spherical",
          "width":8,"blocks":[1,1,1,1],"low_level_channels":12,"aspp_channels":16,"decoder_channels":20})");
  j["output_stride"] = output_stride;
  return nets::make_network(nets::NetConfig::from_json(j));
}

}  // namespace

TEST(NetworkStructure, DeepLabAsppRatesFollowTheOutputStride) {
  for (auto [os, rates] : {std::pair<int, std::vector<int64_t>>{16, {6, 12, 18}}, {8, {12, 24, 36}}}) {
    auto net = deeplab(os);
    nn::Parameters params(*net);  // names the modules
    auto c = convs(*net);
    // Branch 0 is the 1x1 conv; branches 1..3 are 3x3 atrous convs padded by their rate (same size).
    ASSERT_TRUE(c.count("aspp.0.conv")) << os;
    EXPECT_EQ(c["aspp.0.conv"]->options().dilation_h, 1);
    for (size_t b = 0; b < 3; ++b) {
      const std::string name = "aspp." + std::to_string(b + 1) + ".conv";
      ASSERT_TRUE(c.count(name)) << name;
      const nn::Conv2dOptions& o = c[name]->options();
      EXPECT_EQ(o.dilation_h, rates[b]) << "output stride " << os << ", " << name;
      EXPECT_EQ(o.dilation_w, rates[b]) << "output stride " << os << ", " << name;
      EXPECT_EQ(o.padding.h, rates[b]) << name;
      EXPECT_EQ(o.padding.w, rates[b]) << name;
      EXPECT_EQ(params.at(name + ".weight").shape, (Shape{16, 64, 3, 3})) << name;  // 64 = 8 << 3
    }
    EXPECT_FALSE(c.count("aspp.4.conv")) << "three atrous branches, not more";
    // Output stride: stem /2, stage 0 /2, stage 1 /2, stage 2 /2 only at 16; stage 3 never.
    EXPECT_EQ(c["encoder.2.0.conv1"]->options().stride_h, os == 16 ? 2 : 1);
    EXPECT_EQ(c["encoder.2.0.conv1"]->options().dilation_h, os == 16 ? 1 : 2);
    EXPECT_EQ(c["encoder.3.0.conv1"]->options().stride_h, 1);
    EXPECT_EQ(c["encoder.3.0.conv1"]->options().dilation_h, os == 16 ? 2 : 4);
    EXPECT_EQ(net->size_multiple(), os);
  }
}

TEST(NetworkStructure, DeepLabImagePoolingLowLevelSkipAndOutputSize) {
  for (int os : {16, 8}) {
    auto net = deeplab(os);
    nn::Parameters params(*net, 3);
    // Image pooling: a 1x1 conv with bias from the 64 encoder channels; the projection takes the
    // five branches (1x1, three atrous, pooling) of 16 channels each.
    EXPECT_EQ(params.at("aspp.pool.weight").shape, (Shape{16, 64, 1, 1}));
    EXPECT_EQ(params.at("aspp.pool.bias").shape, (Shape{16}));
    EXPECT_EQ(params.at("aspp.project.conv.weight").shape, (Shape{16, 5 * 16, 1, 1}));
    // Low-level skip: stage 0's 8 channels reduced to 12, concatenated with the 16 ASPP channels.
    EXPECT_EQ(params.at("low_level.conv.weight").shape, (Shape{12, 8, 1, 1}));
    EXPECT_EQ(params.at("decoder1.conv.weight").shape, (Shape{20, 16 + 12, 3, 3}));
    EXPECT_EQ(params.at("classifier.weight").shape, (Shape{3, 20, 1, 1}));

    // 50x70 is a multiple of neither 16 nor 8 (feature maps 25x35, 13x18, 7x9, 4x5): the pooling
    // branch is broadcast back to whatever size the encoder ends at, and the logits come back at
    // the input size. A training step with a batch of one (the pooling branch has no BatchNorm).
    nn::Graph g(&params, nn::Graph::Mode::train);
    nn::Value x = g.input("x", {1, 3, 50, 70});
    nn::Value y = g.input_labels("y", {1, 50, 70});
    nn::Value logits = net->forward(x);
    EXPECT_EQ(logits.shape(), (Shape{1, 3, 50, 70})) << "output stride " << os;
    nn::Value loss = nn::cross_entropy(logits, y);
    g.compile({loss, logits}, loss);
    Tensor xt = g.tensor(x);
    for (int64_t k = 0; k < xt.numel(); ++k) xt[k] = float(std::sin(0.37 * double(k)));
    int32_t* yt = g.labels(y);
    for (int64_t k = 0; k < 50 * 70; ++k) yt[k] = static_cast<int32_t>(k % 3);
    params.zero_grad();
    g.forward();
    g.backward();
    EXPECT_TRUE(std::isfinite(g.scalar(loss)));
    // The loss depends on the skip's weights and on the pooling branch: both get gradients.
    auto grad_norm = [&](const std::string& name) {
      nn::Param& p = params.at(name);
      double s = 0;
      for (int64_t k = 0; k < p.numel; ++k) s += double(p.grad[k]) * p.grad[k];
      return std::sqrt(s);
    };
    EXPECT_GT(grad_norm("low_level.conv.weight"), 0.0) << "output stride " << os;
    EXPECT_GT(grad_norm("aspp.pool.weight"), 0.0) << "output stride " << os;
    for (int b = 1; b <= 3; ++b)
      EXPECT_GT(grad_norm("aspp." + std::to_string(b) + ".conv.weight"), 0.0) << "branch " << b << " os " << os;
  }
}

TEST(NetworkStructure, UNetParameterCountByHand) {
  // DoubleConv(a, b) = conv1 9ab + bn1 2b + conv2 9b^2 + bn2 2b (no conv biases); head 1x1 with bias.
  // depth 2, width 8, 2 input channels, 2 classes:
  //   encoder DC(2,8)=144+16+576+16=752, DC(8,16)=1152+32+2304+32=3520, DC(16,32)=4608+64+9216+64=13952
  //   decoder DC(48,16)=6912+32+2304+32=9280, DC(24,8)=1728+16+576+16=2336; head 8*2+2=18
  //   total 752+3520+13952+9280+2336+18 = 29858
  auto small = nets::make_network(nets::NetConfig::from_json(
      json::parse(R"({"type":"unet","channels":["a","b"],"classes":["no","yes"],"depth":2,"width":8})")));
  nn::Parameters ps(*small);
  EXPECT_EQ(ps.count(), 29858);
  EXPECT_EQ(small->size_multiple(), 4);
  // The defaults (depth 4, width 16, TMQ/U850/V850/PSL, 3 classes):
  //   encoder DC(4,16)=2944, DC(16,32)=13952, DC(32,64)=55552, DC(64,128)=221696, DC(128,256)=885760
  //   decoder DC(384,128)=590336, DC(192,64)=147712, DC(96,32)=36992, DC(48,16)=9280; head 16*3+3=51
  //   total 1179904 + 784320 + 51 = 1964275
  auto dflt = nets::make_network(nets::NetConfig::from_json(json::parse(R"({"type":"unet"})")));
  nn::Parameters pd(*dflt);
  EXPECT_EQ(pd.count(), 1964275);
  EXPECT_EQ(dflt->size_multiple(), 16);
  // Skips: each decoder level takes the upsampled level below (2c) plus the skip (c).
  EXPECT_EQ(pd.at("decoder.0.conv1.weight").shape, (Shape{128, 384, 3, 3}));
  EXPECT_EQ(pd.at("decoder.3.conv1.weight").shape, (Shape{16, 48, 3, 3}));
  // Output size = input size at a multiple of 2^depth.
  nn::Graph g(&ps, nn::Graph::Mode::eval);
  nn::Value x = g.input("x", {1, 2, 20, 36});
  EXPECT_EQ(small->forward(x).shape(), (Shape{1, 2, 20, 36}));
}
