// DeepLabv3+ (Chen et al. 2018) as used for DeepCAM (Kurth et al. 2018), sized for CPU nodes: a
// residual encoder of basic blocks (output stride 16 or 8 by dilating the last stages), ASPP with
// rates 6/12/18 (12/24/36 at stride 8) and an image-pooling branch that works for any input size,
// a decoder with a low-level skip, and upsampling to the input size.
// Hyper-parameters: "width" (channels of the first stage, default 32), "blocks" (basic blocks per
// stage, default [2, 2, 2, 2]), "output_stride" (16 or 8), "aspp_channels" (default 4*width),
// "low_level_channels" (default 48), "decoder_channels" (default 4*width).
#pragma once

#include <memory>
#include <vector>

#include "models/nets/network.hpp"
#include "nn/layers.hpp"

namespace climseg::nets {

// conv -> bn -> relu (no bias).
class ConvBnRelu : public nn::Module {
 public:
  ConvBnRelu(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t dilation, const std::string& padding);
  nn::Value forward(nn::Value x);
  nn::Conv2d conv;
  nn::BatchNorm2d bn;
};

// ResNet basic block: conv1-bn1-relu-conv2-bn2 + shortcut (1x1 conv + bn when the shape changes), relu.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t cin, int64_t cout, int64_t stride, int64_t dilation, const std::string& padding);
  nn::Value forward(nn::Value x);
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  std::unique_ptr<nn::Module> downsample;  // children "0" (conv) and "1" (bn), as torchvision
  std::unique_ptr<nn::Conv2d> down_conv;
  std::unique_ptr<nn::BatchNorm2d> down_bn;
};

class DeepLabV3Plus : public Network {
 public:
  explicit DeepLabV3Plus(const NetConfig& config);
  nn::Value forward(nn::Value x) override;
  int64_t size_multiple() const override { return output_stride_; }

 private:
  int64_t output_stride_;
  std::unique_ptr<ConvBnRelu> stem1_, stem2_;
  nn::Module encoder_;
  std::vector<std::vector<BasicBlock*>> stages_;
  nn::Module aspp_;
  std::vector<ConvBnRelu*> aspp_branches_;
  std::unique_ptr<nn::Conv2d> aspp_pool_conv_;
  std::unique_ptr<ConvBnRelu> aspp_project_, low_level_, dec1_, dec2_;
  std::unique_ptr<nn::Conv2d> classifier_;
};

}  // namespace climseg::nets
