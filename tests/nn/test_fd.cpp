// Every op's backward kernel (double instantiation) against central finite differences of its
// forward, on small odd shapes: stride 2, dilation 2, depthwise, groups and every padding mode.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/kernels/conv_ref.hpp"
#include "nn/kernels/ops_ref.hpp"
#include "nn_test_util.hpp"

namespace climseg::nn {
namespace {

using test::expect_fd;
using test::random_vec;
using V = std::vector<double>;

struct ConvCase {
  const char* name;
  ConvGeom g;
  bool bias;
};

ConvGeom geom(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t k, int64_t s, int64_t d,
              int64_t groups, Padding p) {
  ConvGeom g;
  g.n = n, g.cin = cin, g.h = h, g.w = w, g.cout = cout, g.kh = g.kw = k, g.sh = g.sw = s, g.dh = g.dw = d;
  g.groups = groups, g.pad = p;
  return g;
}

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> c = {
      {"zeros_bias", geom(2, 3, 5, 7, 4, 3, 1, 1, 1, Padding::zeros(1)), true},
      {"circular_s2_d2", geom(1, 2, 7, 9, 3, 3, 2, 2, 1, Padding::circular(2)), false},
      {"spherical_zeros", geom(2, 2, 5, 6, 3, 3, 1, 1, 1, Padding::spherical(1)), false},
      {"spherical_reflect_d2", geom(1, 2, 6, 7, 2, 3, 1, 2, 1, Padding::spherical(2, Pad::reflect)), true},
      {"depthwise_d2_circular", geom(2, 4, 6, 5, 4, 3, 1, 2, 4, Padding::circular(2)), false},
      {"depthwise_s2_zeros", geom(1, 3, 7, 7, 3, 3, 2, 1, 3, Padding::zeros(1)), true},
      {"groups2_s2", geom(1, 4, 7, 5, 6, 3, 2, 1, 2, Padding::zeros(1)), true},
      {"circular_wraps_twice", geom(1, 2, 2, 3, 2, 3, 1, 3, 1, Padding::circular(3)), false},
      {"reflect_both", geom(1, 2, 5, 6, 2, 3, 1, 1, 1, Padding{1, 2, Pad::reflect, Pad::reflect}), false},
  };
  c[8].g.kw = 5;  // non-square kernel with asymmetric padding amounts
  return c;
}

TEST(FiniteDifferences, Conv2dEveryPaddingStrideDilationGroup) {
  for (const ConvCase& cc : conv_cases()) {
    const ConvGeom& g = cc.g;
    SCOPED_TRACE(cc.name);
    check_conv_geom(g, cc.name);
    V x = random_vec<double>(static_cast<size_t>(g.n * g.cin * g.h * g.w), 1);
    V w = random_vec<double>(static_cast<size_t>(g.cout * g.cin_g() * g.kh * g.kw), 2);
    V b = random_vec<double>(static_cast<size_t>(g.cout), 3);
    V y(static_cast<size_t>(g.n * g.cout * g.oh() * g.ow()));
    V r = random_vec<double>(y.size(), 4);
    auto f = [&] { ref::conv2d_forward(g, x.data(), w.data(), cc.bias ? b.data() : nullptr, y.data()); };
    V dx(x.size(), 7.0), dw(w.size(), 7.0), db(b.size(), 7.0);  // garbage: accumulate=false must overwrite
    ref::conv2d_backward_input(g, r.data(), w.data(), dx.data(), false);
    ref::conv2d_backward_weight(g, x.data(), r.data(), dw.data(), cc.bias ? db.data() : nullptr, false);
    std::vector<test::FdInput> ins = {{"x", &x, &dx}, {"w", &w, &dw}};
    if (cc.bias) ins.push_back({"b", &b, &db});
    expect_fd(cc.name, f, y, r, ins);
    // accumulate=true adds to what is there
    V dx2(x.size(), 1.5);
    ref::conv2d_backward_input(g, r.data(), w.data(), dx2.data(), true);
    for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx2[i], dx[i] + 1.5, 1e-12);
  }
}

// conv_transpose2d is the adjoint of a conv2d: forward = conv2d_backward_input, and its backward
// uses conv2d_forward (input gradient) and conv2d_backward_weight with the roles swapped.
TEST(FiniteDifferences, ConvTranspose2d) {
  ConvGeom g = geom(2, 3, 9, 8, 4, 3, 2, 1, 1, Padding::zeros(1));                   // conv: (2,3,9,8) -> (2,4,5,4)
  V x = random_vec<double>(static_cast<size_t>(g.n * g.cout * g.oh() * g.ow()), 1);  // transpose input
  V w = random_vec<double>(static_cast<size_t>(g.cout * g.cin * 9), 2);
  V y(static_cast<size_t>(g.n * g.cin * g.h * g.w));
  V r = random_vec<double>(y.size(), 3);
  auto f = [&] { ref::conv2d_backward_input(g, x.data(), w.data(), y.data(), false); };
  V dx(x.size()), dw(w.size());
  ref::conv2d_forward(g, r.data(), w.data(), static_cast<const double*>(nullptr), dx.data());
  ref::conv2d_backward_weight(g, r.data(), x.data(), dw.data(), static_cast<double*>(nullptr), false);
  expect_fd("conv_transpose2d", f, y, r, {{"x", &x, &dx}, {"w", &w, &dw}});
}

// BatchNorm in training mode (batch statistics), optionally followed by PReLU, through the split
// kernels: channel sums -> apply; backward sums -> apply.
void check_bn(bool prelu, bool training, int64_t na) {
  const int64_t n = 2, c = 3, hw = 5 * 3;
  const double eps = 1e-3;
  V x = random_vec<double>(static_cast<size_t>(n * c * hw), 1, 2.0);
  V gamma = random_vec<double>(static_cast<size_t>(c), 2), beta = random_vec<double>(static_cast<size_t>(c), 3);
  V alpha = random_vec<double>(static_cast<size_t>(na), 4, 0.3);
  V rm = random_vec<double>(static_cast<size_t>(c), 5, 0.2), rv = {0.7, 1.3, 2.1};
  V y(x.size());
  V mean(static_cast<size_t>(c)), invstd(static_cast<size_t>(c)), scale(static_cast<size_t>(c)),
      shift(static_cast<size_t>(c));
  const double m = double(n * hw);
  auto f = [&] {
    if (training) {
      V s(static_cast<size_t>(c)), q(static_cast<size_t>(c));
      ref::bn_channel_sums(x.data(), n, c, hw, s.data(), q.data());
      for (int64_t ch = 0; ch < c; ++ch) {
        mean[size_t(ch)] = s[size_t(ch)] / m;
        double var = q[size_t(ch)] / m - mean[size_t(ch)] * mean[size_t(ch)];
        invstd[size_t(ch)] = 1.0 / std::sqrt(var + eps);
      }
    } else {
      for (int64_t ch = 0; ch < c; ++ch)
        mean[size_t(ch)] = rm[size_t(ch)], invstd[size_t(ch)] = 1 / std::sqrt(rv[size_t(ch)] + eps);
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      scale[size_t(ch)] = gamma[size_t(ch)] * invstd[size_t(ch)];
      shift[size_t(ch)] = beta[size_t(ch)] - mean[size_t(ch)] * scale[size_t(ch)];
    }
    ref::bn_apply(x.data(), y.data(), n, c, hw, scale.data(), shift.data(), prelu ? alpha.data() : nullptr, na);
  };
  f();
  V r = random_vec<double>(y.size(), 6);
  V sdz(static_cast<size_t>(c)), sdzx(static_cast<size_t>(c)), sda(static_cast<size_t>(c));
  ref::bn_backward_sums(x.data(), r.data(), n, c, hw, mean.data(), invstd.data(), scale.data(), shift.data(),
                        prelu ? alpha.data() : nullptr, na, sdz.data(), sdzx.data(), prelu ? sda.data() : nullptr);
  V k1(static_cast<size_t>(c)), k2(static_cast<size_t>(c));
  for (int64_t ch = 0; ch < c; ++ch) {
    k1[size_t(ch)] = training ? sdz[size_t(ch)] / m : 0.0;
    k2[size_t(ch)] = training ? sdzx[size_t(ch)] / m : 0.0;
  }
  V dx(x.size());
  ref::bn_backward_apply(x.data(), r.data(), dx.data(), n, c, hw, mean.data(), invstd.data(), gamma.data(), k1.data(),
                         k2.data(), scale.data(), shift.data(), prelu ? alpha.data() : nullptr, na, false);
  V dgamma = sdzx, dbeta = sdz, dalpha(static_cast<size_t>(na), 0.0);
  for (int64_t ch = 0; ch < c; ++ch) dalpha[na == 1 ? 0 : size_t(ch)] += sda[size_t(ch)];
  std::vector<test::FdInput> ins = {{"x", &x, &dx}, {"gamma", &gamma, &dgamma}, {"beta", &beta, &dbeta}};
  if (prelu) ins.push_back({"alpha", &alpha, &dalpha});
  expect_fd(prelu ? "bn_prelu" : "bn", f, y, r, ins);
}

TEST(FiniteDifferences, BatchNormTrainingAndEval) {
  check_bn(false, true, 1);
  check_bn(false, false, 1);
}
TEST(FiniteDifferences, BatchNormPReluFused) {
  check_bn(true, true, 3);
  check_bn(true, true, 1);
  check_bn(true, false, 3);
}

TEST(FiniteDifferences, ElementwiseActivations) {
  const int64_t n = 2, c = 3, hw = 7;
  const size_t len = size_t(n * c * hw);
  V x = random_vec<double>(len, 1), y(len), r = random_vec<double>(len, 2), dx(len);
  auto run = [&](const char* name, auto fwd, auto bwd) {
    auto f = [&] { fwd(); };
    f();
    bwd();
    expect_fd(name, f, y, r, {{"x", &x, &dx}});
  };
  run(
      "relu", [&] { ref::relu_forward(x.data(), y.data(), int64_t(len)); },
      [&] { ref::relu_backward(y.data(), r.data(), dx.data(), int64_t(len), false); });
  run(
      "leaky_relu", [&] { ref::leaky_relu_forward(x.data(), y.data(), int64_t(len), 0.2); },
      [&] { ref::leaky_relu_backward(x.data(), r.data(), dx.data(), int64_t(len), 0.2, false); });
  run(
      "sigmoid", [&] { ref::sigmoid_forward(x.data(), y.data(), int64_t(len)); },
      [&] { ref::sigmoid_backward(y.data(), r.data(), dx.data(), int64_t(len), false); });
  run(
      "tanh", [&] { ref::tanh_forward(x.data(), y.data(), int64_t(len)); },
      [&] { ref::tanh_backward(y.data(), r.data(), dx.data(), int64_t(len), false); });
  run(
      "softmax", [&] { ref::softmax_channels_forward(x.data(), y.data(), n, c, hw); },
      [&] { ref::softmax_channels_backward(y.data(), r.data(), dx.data(), n, c, hw, false); });
  for (int64_t na : {int64_t(1), c}) {
    V a = random_vec<double>(static_cast<size_t>(na), 3, 0.3), da(static_cast<size_t>(na));
    auto f = [&] { ref::prelu_forward(x.data(), a.data(), y.data(), n, c, hw, na); };
    f();
    ref::prelu_backward(x.data(), a.data(), r.data(), dx.data(), da.data(), n, c, hw, na, false, false);
    expect_fd("prelu", f, y, r, {{"x", &x, &dx}, {"a", &a, &da}});
  }
  V b = random_vec<double>(len, 4), db(len);
  auto fm = [&] { ref::mul_forward(x.data(), b.data(), y.data(), int64_t(len)); };
  ref::mul_backward(r.data(), b.data(), dx.data(), int64_t(len), false);
  ref::mul_backward(r.data(), x.data(), db.data(), int64_t(len), false);
  expect_fd("mul", fm, y, r, {{"a", &x, &dx}, {"b", &b, &db}});
  V gte = random_vec<double>(static_cast<size_t>(n * c), 5), dg(static_cast<size_t>(n * c));
  auto fs = [&] { ref::scale_channels_forward(x.data(), gte.data(), y.data(), n * c, hw); };
  ref::scale_channels_backward(x.data(), gte.data(), r.data(), dx.data(), dg.data(), n * c, hw, false, false);
  expect_fd("scale_channels", fs, y, r, {{"x", &x, &dx}, {"gate", &gte, &dg}});
}

TEST(FiniteDifferences, Pooling) {
  const int64_t n = 2, c = 2, h = 7, w = 9;
  V x = random_vec<double>(static_cast<size_t>(n * c * h * w), 1), dx(x.size());
  {
    const int64_t k = 3, s = 2, p = 1, oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
    V y(static_cast<size_t>(n * c * oh * ow)), r = random_vec<double>(y.size(), 2);
    std::vector<int32_t> arg(y.size());
    auto f = [&] { ref::max_pool2d_forward(x.data(), y.data(), arg.data(), n, c, h, w, k, k, s, s, p, p, oh, ow); };
    f();
    ref::max_pool2d_backward(r.data(), arg.data(), dx.data(), n, c, h, w, oh, ow, false);
    expect_fd("max_pool2d", f, y, r, {{"x", &x, &dx}});
  }
  struct AvgCase {
    const char* name;
    Padding p;
    bool cip;
  };
  for (AvgCase ac :
       {AvgCase{"avg circular", Padding::circular(1), true}, AvgCase{"avg zeros cip", Padding::zeros(1), true},
        AvgCase{"avg zeros no-cip", Padding::zeros(1), false},
        AvgCase{"avg spherical reflect", Padding::spherical(1, Pad::reflect), true}}) {
    const int64_t k = 3, s = 2, oh = (h + 2 * ac.p.h - k) / s + 1, ow = (w + 2 * ac.p.w - k) / s + 1;
    V y(static_cast<size_t>(n * c * oh * ow)), r = random_vec<double>(y.size(), 3);
    auto f = [&] { ref::avg_pool2d_forward(x.data(), y.data(), n, c, h, w, k, k, s, s, ac.p, ac.cip, oh, ow); };
    f();
    ref::avg_pool2d_backward(r.data(), dx.data(), n, c, h, w, k, k, s, s, ac.p, ac.cip, oh, ow, false);
    expect_fd(ac.name, f, y, r, {{"x", &x, &dx}});
  }
  {
    V y(static_cast<size_t>(n * c)), r = random_vec<double>(y.size(), 4);
    auto f = [&] { ref::global_avg_pool_forward(x.data(), y.data(), n * c, h * w); };
    ref::global_avg_pool_backward(r.data(), dx.data(), n * c, h * w, false);
    expect_fd("global_avg_pool", f, y, r, {{"x", &x, &dx}});
  }
}

TEST(FiniteDifferences, LinearUpsampleConcat) {
  {
    const int64_t n = 3, in = 5, out = 4;
    V x = random_vec<double>(static_cast<size_t>(n * in), 1), w = random_vec<double>(static_cast<size_t>(out * in), 2),
      b = random_vec<double>(size_t(out), 3);
    V y(static_cast<size_t>(n * out)), r = random_vec<double>(y.size(), 4), dx(x.size()), dw(w.size()), db(b.size());
    auto f = [&] { ref::linear_forward(x.data(), w.data(), b.data(), y.data(), n, in, out); };
    ref::linear_backward(x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(), n, in, out, false, false,
                         false);
    expect_fd("linear", f, y, r, {{"x", &x, &dx}, {"w", &w, &dw}, {"b", &b, &db}});
  }
  const int64_t nc = 3, h = 3, w = 5;
  V x = random_vec<double>(static_cast<size_t>(nc * h * w), 5), dx(x.size());
  for (auto [oh, ow, ac] : {std::tuple{7, 11, false}, std::tuple{7, 11, true}, std::tuple{2, 3, false}}) {
    V y(static_cast<size_t>(nc * oh * ow)), r = random_vec<double>(y.size(), 6);
    auto f = [&, oh = oh, ow = ow, ac = ac] {
      ref::upsample_bilinear_forward(x.data(), y.data(), nc, h, w, oh, ow, ac);
    };
    ref::upsample_bilinear_backward(r.data(), dx.data(), nc, h, w, oh, ow, ac, false);
    expect_fd("bilinear", f, y, r, {{"x", &x, &dx}});
  }
  {
    V y(static_cast<size_t>(nc * 7 * 11)), r = random_vec<double>(y.size(), 7);
    auto f = [&] { ref::upsample_nearest_forward(x.data(), y.data(), nc, h, w, 7, 11); };
    ref::upsample_nearest_backward(r.data(), dx.data(), nc, h, w, 7, 11, false);
    expect_fd("nearest", f, y, r, {{"x", &x, &dx}});
  }
  {
    // concat of (2, 2, 6) and (2, 3, 6) along channels, and its backward (a channel slice copy)
    V a = random_vec<double>(24, 8), b = random_vec<double>(36, 9), y(60), r = random_vec<double>(60, 10);
    V da(a.size()), dbb(b.size());
    auto f = [&] {
      ref::copy_channels(a.data(), 2, 0, y.data(), 5, 0, 2, 2, 6, false);
      ref::copy_channels(b.data(), 3, 0, y.data(), 5, 2, 2, 3, 6, false);
    };
    ref::copy_channels(r.data(), 5, 0, da.data(), 2, 0, 2, 2, 6, false);
    ref::copy_channels(r.data(), 5, 2, dbb.data(), 3, 0, 2, 3, 6, false);
    expect_fd("concat", f, y, r, {{"a", &a, &da}, {"b", &b, &dbb}});
  }
}

TEST(FiniteDifferences, Losses) {
  const int64_t n = 2, c = 3, h = 4, w = 5;
  V x = random_vec<double>(static_cast<size_t>(n * c * h * w), 1, 2.0);
  std::vector<int32_t> labels(static_cast<size_t>(n * h * w));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = int32_t((i * 7 + i / 3) % 3);
  labels[3] = labels[17] = -1;
  V cw = {0.4, 1.0, 2.5}, rw = {0.2, 0.9, 1.0, 0.5};
  V out(1), r = {1.7}, dx(x.size());
  for (bool rows : {false, true}) {
    double wsum = 0;
    int64_t bad = 0;
    auto f = [&] {
      out[0] = ref::cross_entropy_forward(x.data(), labels.data(), n, c, h, w, cw.data(), rows ? rw.data() : nullptr,
                                          -1, &wsum, &bad);
    };
    f();
    EXPECT_EQ(bad, -1);
    ref::cross_entropy_backward(x.data(), labels.data(), dx.data(), n, c, h, w, cw.data(), rows ? rw.data() : nullptr,
                                -1, wsum, r[0], false);
    expect_fd(rows ? "cross_entropy rows" : "cross_entropy", f, out, r, {{"x", &x, &dx}}, 1e-6, 1000);
    for (auto kind : {ref::OverlapKind::jaccard, ref::OverlapKind::dice}) {
      V sums(static_cast<size_t>(2 * c));
      auto fo = [&] {
        out[0] = ref::overlap_forward(kind, x.data(), labels.data(), n, c, h, w, rows ? rw.data() : nullptr, -1, 1e-7,
                                      sums.data(), &bad);
      };
      fo();
      ref::overlap_backward(kind, x.data(), labels.data(), dx.data(), n, c, h, w, rows ? rw.data() : nullptr, -1, 1e-7,
                            sums.data(), r[0], false);
      expect_fd(kind == ref::OverlapKind::jaccard ? "jaccard" : "dice", fo, out, r, {{"x", &x, &dx}}, 1e-6, 1000);
    }
  }
  // A label outside [0, C) is reported, not read out of bounds.
  labels[5] = 3;
  double wsum = 0;
  int64_t bad = -1;
  ref::cross_entropy_forward(x.data(), labels.data(), n, c, h, w, cw.data(), static_cast<const double*>(nullptr), -1,
                             &wsum, &bad);
  EXPECT_EQ(bad, 5);
}

TEST(FiniteDifferences, PadIndexMapsLikePyTorch) {
  // circular: F.pad(mode='circular'); reflect: F.pad(mode='reflect') (no edge repeat)
  EXPECT_EQ(pad_index(-1, 5, Pad::circular), 4);
  EXPECT_EQ(pad_index(-6, 5, Pad::circular), 4);
  EXPECT_EQ(pad_index(7, 5, Pad::circular), 2);
  EXPECT_EQ(pad_index(-1, 5, Pad::reflect), 1);
  EXPECT_EQ(pad_index(-2, 5, Pad::reflect), 2);
  EXPECT_EQ(pad_index(5, 5, Pad::reflect), 3);
  EXPECT_EQ(pad_index(6, 5, Pad::reflect), 2);
  EXPECT_EQ(pad_index(-1, 5, Pad::zeros), -1);
  EXPECT_EQ(pad_index(5, 5, Pad::zeros), -1);
  EXPECT_EQ(pad_index(3, 5, Pad::zeros), 3);
}

}  // namespace
}  // namespace climseg::nn
