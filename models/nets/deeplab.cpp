// DeepLabv3+ with a residual encoder.
#include "models/nets/deeplab.hpp"

#include "core/error.hpp"

namespace climseg::nets {
using nn::Value;

ConvBnRelu::ConvBnRelu(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t dilation,
                       const std::string& padding)
    : conv(cin, cout, k,
           nn::Conv2dOptions{}.stride(stride).dilation(dilation).pad(make_padding(padding, (k - 1) / 2 * dilation)),
           false),
      bn(cout) {
  register_module("conv", conv);
  register_module("bn", bn);
}

Value ConvBnRelu::forward(Value x) { return nn::relu(bn(conv(x))); }

BasicBlock::BasicBlock(int64_t cin, int64_t cout, int64_t stride, int64_t dilation, const std::string& padding)
    : conv1(cin, cout, 3, nn::Conv2dOptions{}.stride(stride).dilation(dilation).pad(make_padding(padding, dilation)),
            false),
      bn1(cout),
      conv2(cout, cout, 3, nn::Conv2dOptions{}.dilation(dilation).pad(make_padding(padding, dilation)), false),
      bn2(cout) {
  register_module("conv1", conv1);
  register_module("bn1", bn1);
  register_module("conv2", conv2);
  register_module("bn2", bn2);
  if (stride != 1 || cin != cout) {
    downsample = std::make_unique<nn::Module>();
    down_conv = std::make_unique<nn::Conv2d>(cin, cout, 1, nn::Conv2dOptions{}.stride(stride), false);
    down_bn = std::make_unique<nn::BatchNorm2d>(cout);
    downsample->register_module("0", *down_conv);
    downsample->register_module("1", *down_bn);
    register_module("downsample", *downsample);
  }
}

Value BasicBlock::forward(Value x) {
  Value y = bn2(conv2(nn::relu(bn1(conv1(x)))));
  Value shortcut = downsample ? (*down_bn)((*down_conv)(x)) : x;
  return nn::relu(nn::add(y, shortcut));
}

DeepLabV3Plus::DeepLabV3Plus(const NetConfig& config) : Network(config) {
  const std::string& pad = config.padding;
  const int64_t w = config.get_int("width", 32);
  const auto blocks = config.get_ints("blocks", {2, 2, 2, 2});
  output_stride_ = config.get_int("output_stride", 16);
  const int64_t aspp_c = config.get_int("aspp_channels", 4 * w);
  const int64_t low_c = config.get_int("low_level_channels", 48);
  const int64_t dec_c = config.get_int("decoder_channels", 4 * w);
  if (w < 1 || aspp_c < 1 || low_c < 1 || dec_c < 1) fail_usage("model config: DeepLabv3+ widths must be positive");
  if (blocks.size() != 4) fail_usage("model config: DeepLabv3+ 'blocks' needs 4 stage sizes, got {}", blocks.size());
  for (int64_t b : blocks)
    if (b < 1) fail_usage("model config: DeepLabv3+ stages need at least one block");
  if (output_stride_ != 16 && output_stride_ != 8)
    fail_usage("model config: DeepLabv3+ output_stride must be 16 or 8, got {}", output_stride_);

  stem1_ = std::make_unique<ConvBnRelu>(config.in_channels(), w, 3, 2, 1, pad);
  stem2_ = std::make_unique<ConvBnRelu>(w, w, 3, 1, 1, pad);
  register_module("stem1", *stem1_);
  register_module("stem2", *stem2_);
  // Stage strides give /4, /8, /16, /16 at output stride 16 (last stage dilated 2) and
  // /4, /8, /8, /8 at output stride 8 (stages 3 and 4 dilated 2 and 4).
  const int64_t strides[4] = {2, 2, output_stride_ == 16 ? 2 : 1, 1};
  const int64_t dilations[4] = {1, 1, output_stride_ == 16 ? 1 : 2, output_stride_ == 16 ? 2 : 4};
  int64_t cin = w;
  for (int s = 0; s < 4; ++s) {
    auto& stage = encoder_.emplace_module<nn::Module>(std::to_string(s));
    const int64_t c = w << s;
    stages_.emplace_back();
    for (int64_t b = 0; b < blocks[static_cast<size_t>(s)]; ++b) {
      stages_.back().push_back(&stage.emplace_module<BasicBlock>(std::to_string(b), b == 0 ? cin : c, c,
                                                                 b == 0 ? strides[s] : 1, dilations[s], pad));
    }
    cin = c;
  }
  register_module("encoder", encoder_);

  const int64_t rate_scale = output_stride_ == 16 ? 1 : 2;
  aspp_branches_.push_back(&aspp_.emplace_module<ConvBnRelu>("0", cin, aspp_c, 1, 1, 1, pad));
  for (int64_t r : {6, 12, 18})
    aspp_branches_.push_back(&aspp_.emplace_module<ConvBnRelu>(std::to_string(aspp_branches_.size()), cin, aspp_c, 3, 1,
                                                               r * rate_scale, pad));
  // Image pooling: no BatchNorm on a 1x1 map (undefined for a batch of one while training).
  aspp_pool_conv_ = std::make_unique<nn::Conv2d>(cin, aspp_c, 1, nn::Conv2dOptions{}, true);
  aspp_.register_module("pool", *aspp_pool_conv_);
  aspp_project_ = std::make_unique<ConvBnRelu>(5 * aspp_c, aspp_c, 1, 1, 1, pad);
  aspp_.register_module("project", *aspp_project_);
  register_module("aspp", aspp_);

  low_level_ = std::make_unique<ConvBnRelu>(w, low_c, 1, 1, 1, pad);
  dec1_ = std::make_unique<ConvBnRelu>(aspp_c + low_c, dec_c, 3, 1, 1, pad);
  dec2_ = std::make_unique<ConvBnRelu>(dec_c, dec_c, 3, 1, 1, pad);
  classifier_ = std::make_unique<nn::Conv2d>(dec_c, config.num_classes(), 1, nn::Conv2dOptions{}, true);
  register_module("low_level", *low_level_);
  register_module("decoder1", *dec1_);
  register_module("decoder2", *dec2_);
  register_module("classifier", *classifier_);
}

Value DeepLabV3Plus::forward(Value x) {
  const int64_t H = x.dim(2), W = x.dim(3);
  Value h = stem2_->forward(stem1_->forward(x));
  Value low;
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (BasicBlock* b : stages_[s]) h = b->forward(h);
    if (s == 0) low = h;  // stride 4
  }
  std::vector<Value> branches;
  for (ConvBnRelu* b : aspp_branches_) branches.push_back(b->forward(h));
  Value pooled = nn::reshape(nn::global_avg_pool(h), {h.dim(0), h.dim(1), 1, 1});
  pooled = nn::relu((*aspp_pool_conv_)(pooled));
  branches.push_back(nn::upsample_nearest(pooled, h.dim(2), h.dim(3)));
  Value aspp = aspp_project_->forward(nn::concat(branches));
  Value up = nn::upsample_bilinear(aspp, low.dim(2), low.dim(3), false);
  Value dec = dec2_->forward(dec1_->forward(nn::concat({low_level_->forward(low), up})));
  return nn::upsample_bilinear((*classifier_)(dec), H, W, false);
}

}  // namespace climseg::nets
