// U-Net (Ronneberger et al. 2015) for fields on the sphere: an encoder of double 3x3 conv-BN-ReLU
// blocks with 2x2 max pooling, a decoder with bilinear upsampling and skip connections, a 1x1 head.
// Hyper-parameters: "depth" (poolings, default 4), "width" (channels of the first level, doubled
// at each level, default 16). Default padding for configs that name none: "spherical".
#pragma once

#include <vector>

#include "models/nets/network.hpp"
#include "nn/layers.hpp"

namespace climseg::nets {

// conv1 -> bn1 -> relu -> conv2 -> bn2 -> relu (3x3, no bias).
class DoubleConv : public nn::Module {
 public:
  DoubleConv(int64_t cin, int64_t cout, const std::string& padding, int64_t dilation = 1);
  nn::Value forward(nn::Value x);
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
};

class UNet : public Network {
 public:
  explicit UNet(const NetConfig& config);
  nn::Value forward(nn::Value x) override;
  int64_t size_multiple() const override { return int64_t{1} << depth_; }

 private:
  int64_t depth_;
  nn::Module encoder_, decoder_;
  std::vector<DoubleConv*> down_, up_;
  std::unique_ptr<nn::Conv2d> head_;
};

}  // namespace climseg::nets
