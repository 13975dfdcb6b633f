// CGNet as in ClimateNet.
#include "models/nets/cgnet.hpp"

#include "core/error.hpp"

namespace climseg::nets {
using nn::Value;

ConvBnPrelu::ConvBnPrelu(int64_t cin, int64_t cout, int64_t k, int64_t stride, const std::string& padding)
    : conv(cin, cout, k, nn::Conv2dOptions{}.stride(stride).pad(make_padding(padding, (k - 1) / 2)), false),
      bn(cout, 1e-3),
      act(cout) {
  register_module("conv", conv);
  register_module("bn", bn);
  register_module("act", act);
}

Value ConvBnPrelu::forward(Value x) { return nn::batch_norm_prelu(bn, act, conv(x)); }

Gate::Gate(int64_t c, int64_t reduction) : fc0(c, c / reduction), fc2(c / reduction, c) {
  if (c / reduction < 1) fail_usage("CGNet gate: {} channels cannot be reduced by {}", c, reduction);
  fc.register_module("0", fc0);
  fc.register_module("2", fc2);
  register_module("fc", fc);
}

Value Gate::forward(Value x) {
  Value y = nn::sigmoid(fc2(nn::relu(fc0(nn::global_avg_pool(x)))));  // (N, C)
  return nn::scale_channels(x, y);
}

CGBlockDown::CGBlockDown(int64_t cin, int64_t cout, int64_t dilation, int64_t reduction, const std::string& padding)
    : conv1x1(cin, cout, 3, 2, padding),
      F_loc(cout, cout, 3, 1, 1, cout, padding),
      F_sur(cout, cout, 3, 1, dilation, cout, padding),
      bn(2 * cout, 1e-3),
      act(2 * cout),
      reduce(2 * cout, cout, 1, 1, 1, 1, padding),
      F_glo(cout, reduction) {
  register_module("conv1x1", conv1x1);
  register_module("F_loc", F_loc);
  register_module("F_sur", F_sur);
  register_module("bn", bn);
  register_module("act", act);
  register_module("reduce", reduce);
  register_module("F_glo", F_glo);
}

Value CGBlockDown::forward(Value x) {
  Value y = conv1x1.forward(x);
  Value joint = nn::batch_norm_prelu(bn, act, nn::concat({F_loc.forward(y), F_sur.forward(y)}));
  return F_glo.forward(reduce.forward(joint));
}

CGBlock::CGBlock(int64_t c, int64_t dilation, int64_t reduction, const std::string& padding)
    : conv1x1(c, c / 2, 1, 1, padding),
      F_loc(c / 2, c / 2, 3, 1, 1, c / 2, padding),
      F_sur(c / 2, c / 2, 3, 1, dilation, c / 2, padding),
      bn_prelu(c, 1e-3),
      F_glo(c, reduction) {
  register_module("conv1x1", conv1x1);
  register_module("F_loc", F_loc);
  register_module("F_sur", F_sur);
  register_module("bn_prelu", bn_prelu);
  register_module("F_glo", F_glo);
}

Value CGBlock::forward(Value x) {
  Value y = conv1x1.forward(x);
  Value joint = bn_prelu(nn::concat({F_loc.forward(y), F_sur.forward(y)}));
  return nn::add(x, F_glo.forward(joint));
}

CGNet::CGNet(const NetConfig& config) : Network(config) {
  const int64_t c = config.in_channels(), k = config.num_classes();
  const int64_t M = config.get_int("M", 3), N = config.get_int("N", 21);
  if (M < 1 || N < 1) fail_usage("model config: CGNet needs M >= 1 and N >= 1 (got M={}, N={})", M, N);
  const std::string& pad = config.padding;
  inject_pad_ = make_padding(pad, 1);
  level1_0_ = std::make_unique<ConvBnPrelu>(c, 32, 3, 2, pad);
  level1_1_ = std::make_unique<ConvBnPrelu>(32, 32, 3, 1, pad);
  level1_2_ = std::make_unique<ConvBnPrelu>(32, 32, 3, 1, pad);
  b1_ = std::make_unique<nn::BnPrelu>(32 + c, 1e-3);
  level2_0_ = std::make_unique<CGBlockDown>(32 + c, 64, 2, 8, pad);
  for (int64_t i = 0; i < M - 1; ++i)
    level2_blocks_.push_back(&level2_.emplace_module<CGBlock>(std::to_string(i), 64, 2, 8, pad));
  bn_prelu_2_ = std::make_unique<nn::BnPrelu>(128 + c, 1e-3);
  level3_0_ = std::make_unique<CGBlockDown>(128 + c, 128, 4, 16, pad);
  for (int64_t i = 0; i < N - 1; ++i)
    level3_blocks_.push_back(&level3_.emplace_module<CGBlock>(std::to_string(i), 128, 4, 16, pad));
  bn_prelu_3_ = std::make_unique<nn::BnPrelu>(256, 1e-3);
  classifier_conv_ = &classifier_.emplace_module<PaddedConv>("0", 256, k, 1, 1, 1, 1, pad);

  register_module("level1_0", *level1_0_);
  register_module("level1_1", *level1_1_);
  register_module("level1_2", *level1_2_);
  register_module("b1", *b1_);
  register_module("level2_0", *level2_0_);
  register_module("level2", level2_);
  register_module("bn_prelu_2", *bn_prelu_2_);
  register_module("level3_0", *level3_0_);
  register_module("level3", level3_);
  register_module("bn_prelu_3", *bn_prelu_3_);
  register_module("classifier", classifier_);
}

Value CGNet::forward(Value x) {
  const int64_t H = x.dim(2), W = x.dim(3);
  Value o0 = level1_2_->forward(level1_1_->forward(level1_0_->forward(x)));
  // Input injection: circular pad 1, 3x3 average pool, stride 2; once and twice.
  Value inp1 = nn::avg_pool2d(x, 3, 2, inject_pad_);
  Value inp2 = nn::avg_pool2d(inp1, 3, 2, inject_pad_);
  Value cat0 = (*b1_)(nn::concat({o0, inp1}));
  Value o10 = level2_0_->forward(cat0);
  Value o1 = o10;
  for (CGBlock* b : level2_blocks_) o1 = b->forward(o1);
  Value cat1 = (*bn_prelu_2_)(nn::concat({o1, o10, inp2}));
  Value o20 = level3_0_->forward(cat1);
  Value o2 = o20;
  for (CGBlock* b : level3_blocks_) o2 = b->forward(o2);
  Value cat2 = (*bn_prelu_3_)(nn::concat({o20, o2}));
  Value logits = classifier_conv_->forward(cat2);
  return nn::upsample_bilinear(logits, H, W, /*align_corners=*/false);
}

}  // namespace climseg::nets
