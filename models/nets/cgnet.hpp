// CGNet (Wu et al. 2018) exactly as ClimateNet uses it (Kashinath et al. 2021): same modules,
// parameter names and shapes as ClimateNet's state_dict, so its published weights load by name.
// Hyper-parameters: "M" (blocks in stage 2, default 3), "N" (stage 3, default 21).
#pragma once

#include <memory>
#include <vector>

#include "models/nets/network.hpp"
#include "nn/layers.hpp"

namespace climseg::nets {

// Conv (no bias) -> BatchNorm(eps 1e-3) -> PReLU: children conv, bn, act.
class ConvBnPrelu : public nn::Module {
 public:
  ConvBnPrelu(int64_t cin, int64_t cout, int64_t k, int64_t stride, const std::string& padding);
  nn::Value forward(nn::Value x);
  nn::Conv2d conv;
  nn::BatchNorm2d bn;
  nn::PReLU act;
};

// Squeeze-excitation gate F_glo: mean over H,W -> fc.0 Linear(C, C/r) -> ReLU -> fc.2 Linear -> sigmoid.
class Gate : public nn::Module {
 public:
  Gate(int64_t c, int64_t reduction);
  nn::Value forward(nn::Value x);
  nn::Module fc;
  nn::Linear fc0, fc2;
};

// Context-guided block that halves H and W (ClimateNet's ContextGuidedBlock_Down).
class CGBlockDown : public nn::Module {
 public:
  CGBlockDown(int64_t cin, int64_t cout, int64_t dilation, int64_t reduction, const std::string& padding);
  nn::Value forward(nn::Value x);
  ConvBnPrelu conv1x1;  // in fact 3x3 stride 2, as in ClimateNet
  PaddedConv F_loc, F_sur;
  nn::BatchNorm2d bn;
  nn::PReLU act;
  PaddedConv reduce;
  Gate F_glo;
};

// Context-guided block with a residual connection (ClimateNet's ContextGuidedBlock).
class CGBlock : public nn::Module {
 public:
  CGBlock(int64_t c, int64_t dilation, int64_t reduction, const std::string& padding);
  nn::Value forward(nn::Value x);
  ConvBnPrelu conv1x1;
  PaddedConv F_loc, F_sur;
  nn::BnPrelu bn_prelu;
  Gate F_glo;
};

class CGNet : public Network {
 public:
  explicit CGNet(const NetConfig& config);
  nn::Value forward(nn::Value x) override;

 private:
  std::unique_ptr<ConvBnPrelu> level1_0_, level1_1_, level1_2_;
  std::unique_ptr<nn::BnPrelu> b1_, bn_prelu_2_, bn_prelu_3_;
  std::unique_ptr<CGBlockDown> level2_0_, level3_0_;
  nn::Module level2_, level3_, classifier_;
  std::vector<CGBlock*> level2_blocks_, level3_blocks_;
  PaddedConv* classifier_conv_ = nullptr;
  nn::Padding inject_pad_;
};

}  // namespace climseg::nets
