// U-Net with spherical padding.
#include "models/nets/unet.hpp"

#include "core/error.hpp"

namespace climseg::nets {
using nn::Value;

DoubleConv::DoubleConv(int64_t cin, int64_t cout, const std::string& padding, int64_t dilation)
    : conv1(cin, cout, 3, nn::Conv2dOptions{}.dilation(dilation).pad(make_padding(padding, dilation)), false),
      bn1(cout),
      conv2(cout, cout, 3, nn::Conv2dOptions{}.dilation(dilation).pad(make_padding(padding, dilation)), false),
      bn2(cout) {
  register_module("conv1", conv1);
  register_module("bn1", bn1);
  register_module("conv2", conv2);
  register_module("bn2", bn2);
}

Value DoubleConv::forward(Value x) { return nn::relu(bn2(conv2(nn::relu(bn1(conv1(x)))))); }

UNet::UNet(const NetConfig& config) : Network(config) {
  depth_ = config.get_int("depth", 4);
  const int64_t width = config.get_int("width", 16);
  if (depth_ < 1 || depth_ > 8) fail_usage("model config: U-Net depth must be 1..8, got {}", depth_);
  if (width < 1) fail_usage("model config: U-Net width must be positive, got {}", width);
  int64_t cin = config.in_channels();
  for (int64_t i = 0; i <= depth_; ++i) {
    int64_t c = width << i;
    down_.push_back(&encoder_.emplace_module<DoubleConv>(std::to_string(i), cin, c, config.padding));
    cin = c;
  }
  for (int64_t i = depth_ - 1; i >= 0; --i) {
    int64_t c = width << i;
    // Input: the upsampled level below (2c channels) concatenated with the skip (c channels).
    up_.push_back(&decoder_.emplace_module<DoubleConv>(std::to_string(depth_ - 1 - i), 3 * c, c, config.padding));
  }
  head_ = std::make_unique<nn::Conv2d>(width, config.num_classes(), 1, nn::Conv2dOptions{}, true);
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);
  register_module("head", *head_);
}

Value UNet::forward(Value x) {
  std::vector<Value> skips;
  Value h = x;
  for (int64_t i = 0; i <= depth_; ++i) {
    if (i > 0) h = nn::max_pool2d(h, 2, 2);
    h = down_[static_cast<size_t>(i)]->forward(h);
    skips.push_back(h);
  }
  for (int64_t i = 0; i < depth_; ++i) {
    Value skip = skips[static_cast<size_t>(depth_ - 1 - i)];
    Value up = nn::upsample_bilinear(h, skip.dim(2), skip.dim(3), false);
    h = up_[static_cast<size_t>(i)]->forward(nn::concat({skip, up}));
  }
  return (*head_)(h);
}

}  // namespace climseg::nets
