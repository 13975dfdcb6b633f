// The fast float conv2d (1x1 GEMM, depthwise direct and row groups, im2col tiles) against the
// reference kernel on geometries that exercise every path, several tiles, edges and padding modes,
// at every ISA level this build has and this CPU runs (the same references and tolerances).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/isa.hpp"
#include "nn/kernels/conv.hpp"
#include "nn_test_util.hpp"

namespace climseg::nn {
namespace {

using test::random_vec;

struct Case {
  const char* name;
  ConvGeom g;
  bool bias;
  ConvKernel::Algo algo;
};

ConvGeom geom(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t kh, int64_t kw, int64_t s, int64_t d,
              int64_t groups, Padding p) {
  ConvGeom g;
  g.n = n, g.cin = cin, g.h = h, g.w = w, g.cout = cout, g.kh = kh, g.kw = kw, g.sh = g.sw = s, g.dh = g.dw = d;
  g.groups = groups, g.pad = p;
  return g;
}

std::vector<Case> cases() {
  using A = ConvKernel::Algo;
  return {
      {"3x3 circular", geom(2, 5, 13, 17, 7, 3, 3, 1, 1, 1, Padding::circular(1)), false, A::im2col},
      {"3x3 many tiles", geom(1, 16, 40, 70, 16, 3, 3, 1, 1, 1, Padding::circular(1)), true, A::im2col},
      {"3x3 s2 spherical", geom(2, 4, 15, 18, 8, 3, 3, 2, 1, 1, Padding::spherical(1)), false, A::im2col},
      {"3x3 d2 reflect poles", geom(1, 3, 11, 12, 4, 3, 3, 1, 2, 1, Padding::spherical(2, Pad::reflect)), true,
       A::im2col},
      {"5x3 zeros", geom(2, 3, 9, 10, 5, 5, 3, 1, 1, 1, Padding::zeros(2, 1)), true, A::im2col},
      // Direct forward (avx512): 3 bands of 6 output rows (the last one shorter), a partial last
      // pixel tile per row and a partial last block of output channels.
      {"3x3 d2 bands", geom(1, 64, 13, 200, 12, 3, 3, 1, 2, 1, Padding::circular(2)), true, A::im2col},
      {"groups 3", geom(2, 6, 8, 9, 9, 3, 3, 1, 1, 3, Padding::zeros(1)), true, A::im2col},
      {"wraps twice", geom(1, 2, 2, 3, 3, 3, 3, 1, 3, 1, Padding::circular(3)), false, A::im2col},
      {"1x1", geom(3, 12, 7, 9, 5, 1, 1, 1, 1, 1, Padding{}), true, A::gemm1x1},
      {"1x1 groups 2", geom(1, 8, 5, 6, 6, 1, 1, 1, 1, 2, Padding{}), false, A::gemm1x1},
      {"1x1 s2 via im2col", geom(1, 4, 7, 9, 3, 1, 1, 2, 1, 1, Padding{}), false, A::im2col},
      {"depthwise d2 circular", geom(2, 8, 12, 20, 8, 3, 3, 1, 2, 8, Padding::circular(2)), false, A::depthwise},
      {"depthwise d4 spherical", geom(1, 5, 9, 11, 5, 3, 3, 1, 4, 5, Padding::spherical(4, Pad::reflect)), true,
       A::depthwise},
      {"depthwise s2", geom(2, 4, 11, 13, 4, 3, 3, 2, 1, 4, Padding::zeros(1)), true, A::depthwise},
      // Wide rows: the 3x3 row kernel's blocks of 4-8 vectors and its masked last vector.
      {"depthwise d1 wide circular", geom(1, 3, 6, 200, 3, 3, 3, 1, 1, 3, Padding::circular(1)), true, A::depthwise},
      {"depthwise d2 144 zeros", geom(1, 2, 9, 144, 2, 3, 3, 1, 2, 2, Padding::zeros(2)), false, A::depthwise},
      {"depthwise d4 127 circular", geom(2, 2, 11, 127, 2, 3, 3, 1, 4, 2, Padding::circular(4)), true, A::depthwise},
      // A large plane set: prefetch distance, blocks, and the weight gradient's long sums.
      {"depthwise large", geom(4, 40, 96, 144, 40, 3, 3, 1, 2, 40, Padding::circular(2)), false, A::depthwise},
      {"depthwise wraps twice", geom(1, 3, 3, 2, 3, 3, 3, 1, 3, 3, Padding::circular(3)), false, A::depthwise},
      // The 3x3 row groups (rows >= 16 wide): reflected and zero poles, rows and columns that wrap
      // more than once, a dilation wider than a row's last partial vector, a plane shorter than a group.
      {"depthwise rows d4 reflect poles", geom(2, 3, 13, 33, 3, 3, 3, 1, 4, 3, Padding::spherical(4, Pad::reflect)),
       true, A::depthwise},
      {"depthwise rows d2 zero poles", geom(1, 4, 10, 18, 4, 3, 3, 1, 2, 4, Padding::spherical(2, Pad::zeros)), false,
       A::depthwise},
      {"depthwise rows d5 17 circular", geom(2, 2, 7, 17, 2, 3, 3, 1, 5, 2, Padding::circular(5)), true, A::depthwise},
      {"depthwise rows d8 16 circular", geom(1, 2, 3, 16, 2, 3, 3, 1, 8, 2, Padding::circular(8)), false, A::depthwise},
      {"depthwise rows d1 31 zeros", geom(3, 5, 17, 31, 5, 3, 3, 1, 1, 5, Padding::zeros(1)), true, A::depthwise},
      {"depthwise rows d3 50 circular", geom(1, 3, 29, 50, 3, 3, 3, 1, 3, 3, Padding::circular(3)), false,
       A::depthwise},
      // Groups of every size 1..8 appear across these cases; 7 rows only here.
      {"depthwise rows d1 7x40 circular", geom(2, 2, 7, 40, 2, 3, 3, 1, 1, 2, Padding::circular(1)), true,
       A::depthwise},
  };
}

// 64-byte aligned floats: the engine hands kernels 64-byte aligned tensors (a std::vector's large
// blocks are only 16-byte aligned), so outputs are tested on the alignment they get in use.
struct Aligned {
  explicit Aligned(size_t n, float v) : p(static_cast<float*>(std::aligned_alloc(64, (n * 4 + 63) / 64 * 64))) {
    std::fill(p, p + n, v);
  }
  ~Aligned() { std::free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  float* data() { return p; }
  float& operator[](size_t i) { return p[i]; }
  float* p;
};

void check_case(const Case& c, Isa isa);
void check_thread_independence(const Case& c, Isa isa);

TEST(ConvFast, MatchesReferenceForwardAndBackward) {
  ASSERT_FALSE(runnable_isas().empty());
  for (const Isa isa : runnable_isas())
    for (const Case& c : cases()) {
      SCOPED_TRACE(fmt::format("{} at {}", c.name, isa_name(isa)));
      check_case(c, isa);
    }
}

void check_case(const Case& c, Isa isa) {
  const ConvGeom& g = c.g;
  ConvKernel k(g, 0, isa);
  EXPECT_EQ(k.isa(), isa);
  EXPECT_EQ(k.algo(), c.algo) << k.algo_name();
  // 3x3 stride-1 "same" depthwise on rows of 16 or more (columns not reflected) takes the row
  // groups, which exist at the avx512 level only.
  const bool rows = c.algo == ConvKernel::Algo::depthwise && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.pad.h == g.dh &&
                    g.pad.w == g.dw && g.w >= 16 && isa == Isa::avx512;
  if (c.algo == ConvKernel::Algo::depthwise) {
    EXPECT_EQ(k.algo_name(), rows ? "depthwise-rowgroups" : "depthwise-direct");
  }
  // Column stride 1 takes the direct forward (no im2col) at the avx512 level.
  if (c.algo == ConvKernel::Algo::im2col) {
    EXPECT_EQ(k.algo_name().starts_with("direct-gemm"), g.sw == 1 && isa == Isa::avx512) << k.algo_name();
  }
  const size_t nx = size_t(g.n * g.cin * g.h * g.w), nw = size_t(g.cout * g.cin_g() * g.kh * g.kw),
               ny = size_t(g.n * g.cout * g.oh() * g.ow());
  auto x = random_vec<float>(nx, 1), w = random_vec<float>(nw, 2), b = random_vec<float>(size_t(g.cout), 3);
  auto dy = random_vec<float>(ny, 4);
  std::vector<float> ws(size_t(std::max<int64_t>(k.workspace_floats(), 1)));
  const float* bp = c.bias ? b.data() : nullptr;

  Aligned y(ny, 7.0f);
  std::vector<float> yr(ny);
  k.forward(x.data(), w.data(), bp, y.data(), ws.data());
  ref::conv2d_forward(g, x.data(), w.data(), bp, yr.data());
  EXPECT_LE(test::rel_max_error(y.data(), yr.data(), int64_t(ny)), 2e-6);

  Aligned dx(nx, 9.0f);
  std::vector<float> dxr(nx);
  k.backward_input(dy.data(), w.data(), dx.data(), false, ws.data());
  ref::conv2d_backward_input(g, dy.data(), w.data(), dxr.data(), false);
  EXPECT_LE(test::rel_max_error(dx.data(), dxr.data(), int64_t(nx)), 2e-6);
  std::vector<float> dx2(nx, 0.5f);
  k.backward_input(dy.data(), w.data(), dx2.data(), true, ws.data());
  for (size_t i = 0; i < nx; ++i) ASSERT_NEAR(dx2[i], dx[i] + 0.5f, 1e-4f) << i;

  std::vector<float> dw(nw, 9.0f), dwr(nw), db(size_t(g.cout), 9.0f), dbr(size_t(g.cout));
  k.backward_weight(x.data(), dy.data(), dw.data(), false, c.bias ? db.data() : nullptr, false, ws.data());
  ref::conv2d_backward_weight(g, x.data(), dy.data(), dwr.data(), c.bias ? dbr.data() : nullptr, false);
  // The weight gradient sums N*OH*OW products per tap in float vector lanes (flushed to double
  // every 16 rows): 55,296 terms in the large case, measured 9e-6 against the double reference.
  const double tol_w = g.n * g.oh() * g.ow() > 20000 ? 2e-5 : 2e-6;
  EXPECT_LE(test::rel_max_error(dw.data(), dwr.data(), int64_t(nw)), tol_w);
  if (c.bias) {
    EXPECT_LE(test::rel_max_error(db.data(), dbr.data(), g.cout), 2e-6);
  }
  std::vector<float> dw2(nw, 0.25f);
  k.backward_weight(x.data(), dy.data(), dw2.data(), true, nullptr, false, ws.data());
  for (size_t i = 0; i < nw; ++i) ASSERT_NEAR(dw2[i], dw[i] + 0.25f, 1e-3f * (1 + std::abs(dw[i]))) << i;

  // All the gradients in one call (the row groups' one-sweep backward), fresh and accumulated.
  Aligned dx3(nx, 9.0f);
  std::vector<float> dw3(nw, 9.0f), db3(size_t(g.cout), 9.0f);
  k.backward(x.data(), dy.data(), w.data(), dx3.data(), false, dw3.data(), false, c.bias ? db3.data() : nullptr, false,
             ws.data());
  EXPECT_LE(test::rel_max_error(dx3.data(), dxr.data(), int64_t(nx)), 2e-6);
  EXPECT_LE(test::rel_max_error(dw3.data(), dwr.data(), int64_t(nw)), tol_w);
  if (c.bias) {
    EXPECT_LE(test::rel_max_error(db3.data(), dbr.data(), g.cout), 2e-6);
  }
  std::vector<float> dx4(nx, 0.5f), dw4(nw, 0.25f), db4(size_t(g.cout), 0.125f);
  k.backward(x.data(), dy.data(), w.data(), dx4.data(), true, dw4.data(), true, c.bias ? db4.data() : nullptr, true,
             ws.data());
  for (size_t i = 0; i < nx; ++i) ASSERT_NEAR(dx4[i], dx3[i] + 0.5f, 1e-4f) << i;
  for (size_t i = 0; i < nw; ++i) ASSERT_NEAR(dw4[i], dw3[i] + 0.25f, 1e-3f * (1 + std::abs(dw3[i]))) << i;
  for (size_t i = 0; c.bias && i < size_t(g.cout); ++i) {
    ASSERT_NEAR(db4[i], db3[i] + 0.125f, 1e-4f * (1 + std::abs(db3[i])));
  }
  // Only some gradients wanted: the others untouched.
  std::vector<float> dx5(nx, 3.0f), dw5(nw, 3.0f);
  k.backward(x.data(), dy.data(), w.data(), nullptr, false, dw5.data(), false, nullptr, false, ws.data());
  EXPECT_LE(test::rel_max_error(dw5.data(), dwr.data(), int64_t(nw)), tol_w);
  k.backward(x.data(), dy.data(), w.data(), dx5.data(), false, nullptr, false, nullptr, false, ws.data());
  EXPECT_LE(test::rel_max_error(dx5.data(), dxr.data(), int64_t(nx)), 2e-6);
}

// Input and output beyond 32 MiB: the forward of the depthwise row groups writes with streaming
// stores (64-byte aligned output); an output 4 bytes off alignment takes the plain stores. Both must
// match the reference (and each other bit for bit: only the store instruction differs).
TEST(ConvFast, DepthwiseStreamingForwardMatchesReference) {
  if (cpu_isa() < Isa::avx512) GTEST_SKIP() << "the row groups need AVX-512; this CPU has " << isa_name(cpu_isa());
  const ConvGeom g = geom(2, 128, 96, 192, 128, 3, 3, 1, 2, 128, Padding::circular(2));
  ConvKernel k(g, 0, Isa::avx512);
  ASSERT_EQ(k.algo_name(), "depthwise-rowgroups");
  const size_t nx = size_t(g.n * g.cin * g.h * g.w);
  ASSERT_GT(2 * nx * 4, size_t(32) << 20);
  auto x = random_vec<float>(nx, 11), w = random_vec<float>(size_t(g.cout * 9), 12),
       b = random_vec<float>(size_t(g.cout), 13);
  std::vector<float> ws(size_t(std::max<int64_t>(k.workspace_floats(), 1))), yr(nx);
  Aligned y(nx, 7.0f), y_off(nx + 16, 7.0f);
  k.forward(x.data(), w.data(), b.data(), y.data(), ws.data());
  k.forward(x.data(), w.data(), b.data(), y_off.data() + 1, ws.data());
  ref::conv2d_forward(g, x.data(), w.data(), b.data(), yr.data());
  EXPECT_LE(test::rel_max_error(y.data(), yr.data(), int64_t(nx)), 2e-6);
  EXPECT_EQ(std::memcmp(y.data(), y_off.data() + 1, nx * 4), 0);
}

// Every output element is summed by one thread in a fixed order: 1 and 3 threads give the same bits.
TEST(ConvFast, ResultsDoNotDependOnTheThreadCount) {
  for (const Isa isa : runnable_isas())
    for (const Case& c : cases()) {
      SCOPED_TRACE(fmt::format("{} at {}", c.name, isa_name(isa)));
      check_thread_independence(c, isa);
    }
}

void check_thread_independence(const Case& c, Isa isa) {
  const ConvGeom& g = c.g;
  ConvKernel k1(g, 1, isa), k3(g, 3, isa);
  const size_t nx = size_t(g.n * g.cin * g.h * g.w), nw = size_t(g.cout * g.cin_g() * g.kh * g.kw),
               ny = size_t(g.n * g.cout * g.oh() * g.ow());
  auto x = random_vec<float>(nx, 5), w = random_vec<float>(nw, 6), dy = random_vec<float>(ny, 7);
  std::vector<float> ws(size_t(std::max({k1.workspace_floats(), k3.workspace_floats(), int64_t(1)})));
  std::vector<float> y1(ny), y3(ny), dx1(nx), dx3(nx), dw1(nw), dw3(nw);
  k1.forward(x.data(), w.data(), nullptr, y1.data(), ws.data());
  k3.forward(x.data(), w.data(), nullptr, y3.data(), ws.data());
  k1.backward_input(dy.data(), w.data(), dx1.data(), false, ws.data());
  k3.backward_input(dy.data(), w.data(), dx3.data(), false, ws.data());
  k1.backward_weight(x.data(), dy.data(), dw1.data(), false, nullptr, false, ws.data());
  k3.backward_weight(x.data(), dy.data(), dw3.data(), false, nullptr, false, ws.data());
  EXPECT_EQ(std::memcmp(y1.data(), y3.data(), ny * 4), 0);
  EXPECT_EQ(std::memcmp(dx1.data(), dx3.data(), nx * 4), 0);
  EXPECT_EQ(std::memcmp(dw1.data(), dw3.data(), nw * 4), 0);
  k1.backward(x.data(), dy.data(), w.data(), dx1.data(), false, dw1.data(), false, nullptr, false, ws.data());
  k3.backward(x.data(), dy.data(), w.data(), dx3.data(), false, dw3.data(), false, nullptr, false, ws.data());
  EXPECT_EQ(std::memcmp(dx1.data(), dx3.data(), nx * 4), 0);
  EXPECT_EQ(std::memcmp(dw1.data(), dw3.data(), nw * 4), 0);
}

// The direct forward (avx512) adds the same products in the same order as the im2col forward of
// the avx2 level: on a CGNet level-1 convolution (circular, several bands) the same bits.
TEST(ConvFast, DirectForwardIsTheIm2colForwardBitForBit) {
  const auto isas = runnable_isas();
  if (std::find(isas.begin(), isas.end(), Isa::avx512) == isas.end() ||
      std::find(isas.begin(), isas.end(), Isa::avx2) == isas.end())
    GTEST_SKIP() << "needs the avx512 and avx2 kernels on this CPU";
  const ConvGeom g = geom(1, 32, 24, 576, 32, 3, 3, 1, 1, 1, Padding::circular(1));
  ConvKernel direct(g, 2, Isa::avx512), im2col(g, 2, Isa::avx2);
  ASSERT_TRUE(direct.algo_name().starts_with("direct-gemm")) << direct.algo_name();
  ASSERT_TRUE(im2col.algo_name().starts_with("im2col-gemm")) << im2col.algo_name();
  const size_t nx = size_t(g.cin * g.h * g.w), nw = size_t(g.cout * g.cin * 9), ny = size_t(g.cout * g.h * g.w);
  auto x = random_vec<float>(nx, 11), w = random_vec<float>(nw, 12), b = random_vec<float>(size_t(g.cout), 13);
  std::vector<float> ws(size_t(std::max(direct.workspace_floats(), im2col.workspace_floats())));
  std::vector<float> y1(ny), y2(ny);
  direct.forward(x.data(), w.data(), b.data(), y1.data(), ws.data());
  im2col.forward(x.data(), w.data(), b.data(), y2.data(), ws.data());
  EXPECT_EQ(std::memcmp(y1.data(), y2.data(), ny * 4), 0);
}

// x rounded to bf16 (nearest even), back as double.
std::vector<double> bf16_rounded(const std::vector<float>& x) {
  std::vector<double> r(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &x[i], 4);
    u = ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    r[i] = f;
  }
  return r;
}

// The bf16 forward (AVX512-BF16) of the GEMM convolutions: the convolution of x and w rounded to
// bf16, summed in fp32: within 2e-6 of that convolution in double (the fp32 tolerance), and visibly
// not the fp32 result (so the bf16 kernels ran).
TEST(ConvFast, Bf16ForwardIsTheConvolutionOfBf16Inputs) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  double largest_rounding = 0;
  for (const Case& c : cases()) {
    if (c.algo == ConvKernel::Algo::depthwise) continue;
    SCOPED_TRACE(c.name);
    const ConvGeom& g = c.g;
    ConvKernel k(g, 0, Isa::avx512, Precision::bf16);
    EXPECT_NE(k.algo_name().find("bf16"), std::string::npos) << k.algo_name();
    const size_t nx = size_t(g.n * g.cin * g.h * g.w), nw = size_t(g.cout * g.cin_g() * g.kh * g.kw),
                 ny = size_t(g.n * g.cout * g.oh() * g.ow());
    auto x = random_vec<float>(nx, 1), w = random_vec<float>(nw, 2), b = random_vec<float>(size_t(g.cout), 3);
    std::vector<float> ws(size_t(std::max<int64_t>(k.workspace_floats(), 1)));
    const float* bp = c.bias ? b.data() : nullptr;
    Aligned y(ny, 7.0f);
    k.forward(x.data(), w.data(), bp, y.data(), ws.data());
    const std::vector<double> xb = bf16_rounded(x), wb = bf16_rounded(w), bd(b.begin(), b.end());
    std::vector<double> yr(ny), y32(ny);
    ref::conv2d_forward(g, xb.data(), wb.data(), c.bias ? bd.data() : nullptr, yr.data());
    EXPECT_LE(test::rel_max_error(y.data(), yr.data(), int64_t(ny)), 2e-6);
    const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end());
    ref::conv2d_forward(g, xd.data(), wd.data(), c.bias ? bd.data() : nullptr, y32.data());
    largest_rounding = std::max(largest_rounding, test::rel_max_error(y.data(), y32.data(), int64_t(ny)));
  }
  EXPECT_GT(largest_rounding, 1e-4) << "as close to the fp32 convolution as fp32 is: the bf16 kernels did not run";
  EXPECT_LT(largest_rounding, 2e-2);
}

// Worked by hand: bf16 keeps 8 significant bits and rounds to nearest, ties to even, so 1 + 2^-8
// (halfway between 1 and 1 + 2^-7) becomes 1, 1 + 3 * 2^-8 becomes 1 + 2^-6, 1 + 2^-8 + 2^-16
// becomes 1 + 2^-7; the products of bf16 values and their sums here are exact in fp32. Three input
// channels (an odd k: the last pair is half zeros), 20 pixels (a masked vector at the end).
TEST(ConvFast, Bf16ForwardRoundsToNearestEvenWorkedByHand) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  const ConvGeom g = geom(1, 3, 1, 20, 2, 1, 1, 1, 1, 1, Padding{});
  ConvKernel k(g, 1, Isa::avx512, Precision::bf16);
  ASSERT_EQ(k.algo_name(), "gemm1x1 bf16");
  const float tie_down = 1.0f + 0x1p-8f, tie_up = 1.0f + 3 * 0x1p-8f, above = 1.0f + 0x1p-8f + 0x1p-16f;
  const std::vector<float> w = {tie_down, 3.0f, 0.5f, tie_up, 0.0f, 0.0f};  // (cout 2, cin 3)
  std::vector<float> x(60);
  std::vector<double> v_rounded(20);
  for (int p = 0; p < 20; ++p) {
    const float sign = p % 4 == 3 ? -1.0f : 1.0f;
    x[size_t(p)] = sign * (p % 2 ? tie_up : tie_down);
    v_rounded[size_t(p)] = sign * (p % 2 ? 1.0 + 0x1p-6 : 1.0);
    x[size_t(20 + p)] = float(p);
    x[size_t(40 + p)] = above;
  }
  std::vector<float> ws(size_t(std::max<int64_t>(k.workspace_floats(), 1)));
  Aligned y(40, 7.0f);
  k.forward(x.data(), w.data(), nullptr, y.data(), ws.data());
  for (int p = 0; p < 20; ++p) {
    EXPECT_EQ(y[size_t(p)], float(v_rounded[size_t(p)] + 3.0 * p + 0.5 * (1.0 + 0x1p-7))) << "pixel " << p;
    EXPECT_EQ(y[size_t(20 + p)], float((1.0 + 0x1p-6) * v_rounded[size_t(p)])) << "pixel " << p;
  }
}

TEST(ConvFast, Bf16IsRefusedWithoutAvx512Bf16Kernels) {
  const ConvGeom g = geom(1, 4, 8, 9, 5, 3, 3, 1, 1, 1, Padding::zeros(1));
  for (const Isa isa : runnable_isas())
    if (isa != Isa::avx512 || !cpu_has_avx512_bf16()) {
      EXPECT_THROW(ConvKernel(g, 0, isa, Precision::bf16), UsageError) << isa_name(isa);
    }
}

TEST(ConvFast, RejectsImpossibleGeometry) {
  EXPECT_THROW(ConvKernel(geom(1, 3, 5, 5, 4, 3, 3, 1, 1, 2, Padding{})), Error);  // 3 % 2
  EXPECT_THROW(ConvKernel(geom(1, 2, 2, 2, 4, 5, 5, 1, 1, 1, Padding{})), Error);  // kernel > input
  EXPECT_THROW(ConvKernel(geom(1, 2, 3, 9, 4, 3, 3, 1, 1, 1, Padding::spherical(3, Pad::reflect))), Error);
}

}  // namespace
}  // namespace climseg::nn
