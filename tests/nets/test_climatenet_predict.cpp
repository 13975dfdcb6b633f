// ClimateNet's published weights through `climseg predict`, end to end: the reference input of
// tests/reference/nets/make_cgnet_reference.py written as a CF NetCDF file (latitude ascending, the
// four variables named as the weights file's `fields` attribute says), predicted with
// --probabilities; prob_<class> must equal PyTorch's softmax (torch 1.13, eval mode) within 1e-4
// and class_mask must be the argmax of those probabilities.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/h5.hpp"
#include "geo/grid.hpp"
#include "readers/writer.hpp"
#include "synthetic_input.hpp"
#include "test_support.hpp"

using namespace climseg;
namespace fs = std::filesystem;

namespace {

fs::path weights_file() { return test::shared_data() / "climatenet" / "cgnet_climatenet.h5"; }

// One time step of the reference input on a CAM grid (latitudes -90..90 ascending, so row 0 of
// the file is row 0 of PyTorch's input), variables named by the weights file's `fields`.
void write_reference_input(const fs::path& path, int64_t H, int64_t W) {
  h5::File wf = h5::File::open(weights_file());
  auto fields = nlohmann::json::parse(wf.attr_string("fields")).get<std::vector<std::string>>();
  EXPECT_EQ(fields, (std::vector<std::string>{"TMQ", "U850", "V850", "PSL"}));
  io::OutputSpec s;
  s.grid = geo::Grid::cam(H, W);
  s.set_time("days since 2000-01-01 00:00:00", "noleap");
  for (const std::string& f : fields) s.variables.push_back(io::float_field(f, "1", f));
  s.provenance.command_line = "test";
  s.provenance.timestamp = false;
  io::CfWriter w(path, s);
  w.append_time(0.0);
  Tensor raw = test::cgnet_synthetic_input(H, W);  // (4, H, W) in the order TMQ, U850, V850, PSL
  for (size_t c = 0; c < fields.size(); ++c) w.write(fields[c], 0, raw.data() + static_cast<int64_t>(c) * H * W);
  w.close();
}

struct Prediction {
  Tensor prob;  // (3, H, W) as written: prob_Background, prob_Tropical_Cyclone, prob_Atmospheric_River
  Tensor mask;  // (1, H, W) class_mask
};

Prediction predict(const test::TempDir& dir, int64_t H, int64_t W, const std::string& options = "") {
  const std::string tag = std::to_string(H) + "x" + std::to_string(W);
  const fs::path in = dir / ("ref_" + tag + ".nc"), out = dir / ("pred_" + tag);
  if (!fs::exists(in)) write_reference_input(in, H, W);
  test::RunResult r =
      test::run_climseg("--threads 1 --no-progress predict --model '" + weights_file().string() + "' --in '" +
                        in.string() + "' --out '" + out.string() + "' --probabilities " + options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  h5::File f = h5::File::open(out / ("ref_" + tag + ".climseg.nc"));
  Prediction p;
  p.prob = Tensor({3, H, W});
  const char* names[] = {"prob_Background", "prob_Tropical_Cyclone", "prob_Atmospheric_River"};
  for (int64_t c = 0; c < 3; ++c) {
    Tensor t = f.read_tensor(names[c]);
    EXPECT_EQ(t.shape(), (Shape{1, H, W})) << names[c];
    std::copy(t.begin(), t.end(), p.prob.data() + c * H * W);
  }
  p.mask = f.read_tensor("class_mask");
  EXPECT_EQ(p.mask.shape(), (Shape{1, H, W}));
  return p;
}

// class_mask is the argmax of the written probabilities at every pixel (first class on ties, as
// numpy's argmax); returns how many pixels disagree with PyTorch's argmax.
int64_t check_mask(const Prediction& p, const Tensor& torch_argmax, int64_t H, int64_t W) {
  int64_t not_argmax = 0, disagree = 0;
  for (int64_t k = 0; k < H * W; ++k) {
    int best = 0;
    for (int c = 1; c < 3; ++c)
      if (p.prob[c * H * W + k] > p.prob[best * H * W + k]) best = c;
    not_argmax += static_cast<int>(p.mask[k]) != best;
    disagree += best != static_cast<int>(torch_argmax[k]);
  }
  EXPECT_EQ(not_argmax, 0) << H << "x" << W << ": class_mask is not the argmax of prob_*";
  return disagree;
}

}  // namespace

TEST(ClimateNetPredict, ProbabilitiesEqualPyTorchOnTheSmallGrid) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  const int64_t H = 96, W = 144;
  test::TempDir dir;
  Prediction p = predict(dir, H, W);
  h5::File ref = h5::File::open(test::test_data() / "nets" / "cgnet_climatenet_ref.h5");
  h5::Group g = ref.open_group("96x144");
  ASSERT_EQ(g.attr_int64("stride"), 1);
  Tensor expect = g.read_tensor("prob_strided");  // every pixel at this size
  ASSERT_EQ(expect.shape(), (Shape{3, H, W}));
  double max_diff = 0;
  for (int64_t k = 0; k < 3 * H * W; ++k) max_diff = std::max(max_diff, double(std::abs(p.prob[k] - expect[k])));
  EXPECT_LE(max_diff, 1e-4);
  EXPECT_EQ(check_mask(p, g.read_tensor("argmax"), H, W), 0);
}

// --precision bf16 (bf16 convolutions with fp32 sums, AVX512-BF16): an fp32 output in the same
// folder is redone, not kept (the precision is part of the run key), and the probabilities are
// within 2e-2 of PyTorch's fp32 ones, the mask their argmax. Without AVX512-BF16 (or with
// CLIMSEG_ISA below avx512): exit 2 and one line, the fp32 output untouched.
TEST(ClimateNetPredict, Bf16PredictionRedoesFp32OutputsAndStaysNearPyTorch) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  const int64_t H = 96, W = 144;
  test::TempDir dir;
  const Prediction p32 = predict(dir, H, W);
  const fs::path in = dir / "ref_96x144.nc", out = dir / "pred_96x144";
  const std::string args = "--no-progress predict --model '" + weights_file().string() + "' --in '" + in.string() +
                           "' --out '" + out.string() + "' --probabilities --precision bf16";
  const auto written = fs::last_write_time(out / "ref_96x144.climseg.nc");
  test::RunResult low = test::run_command("env CLIMSEG_ISA=avx2 " + test::climseg_exe().string() + " " + args);
  EXPECT_EQ(low.exit_code, 2) << low.err;
  EXPECT_EQ(low.err.rfind("climseg: error: --precision bf16 needs ", 0), 0u) << low.err;
  EXPECT_EQ(std::count(low.err.begin(), low.err.end(), '\n'), 1) << low.err;
  EXPECT_EQ(fs::last_write_time(out / "ref_96x144.climseg.nc"), written);
  test::RunResult r = test::run_climseg("--threads 1 " + args);
  if (r.exit_code == 2 && r.err.find("AVX512-BF16") != std::string::npos) GTEST_SKIP() << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  h5::File f = h5::File::open(out / "ref_96x144.climseg.nc");
  const char* names[] = {"prob_Background", "prob_Tropical_Cyclone", "prob_Atmospheric_River"};
  Prediction p;
  p.prob = Tensor({3, H, W});
  for (int64_t c = 0; c < 3; ++c) {
    Tensor t = f.read_tensor(names[c]);
    std::copy(t.begin(), t.end(), p.prob.data() + c * H * W);
  }
  p.mask = f.read_tensor("class_mask");
  h5::File ref = h5::File::open(test::test_data() / "nets" / "cgnet_climatenet_ref.h5");
  h5::Group g = ref.open_group("96x144");
  Tensor expect = g.read_tensor("prob_strided");
  double to_torch = 0, to_fp32 = 0;
  for (int64_t k = 0; k < 3 * H * W; ++k) {
    to_torch = std::max(to_torch, double(std::abs(p.prob[k] - expect[k])));
    to_fp32 = std::max(to_fp32, double(std::abs(p.prob[k] - p32.prob[k])));
  }
  EXPECT_LE(to_torch, 2e-2);
  EXPECT_GT(to_fp32, 1e-5) << "the fp32 output was kept, or the convolutions ran in fp32";
  EXPECT_LE(check_mask(p, g.read_tensor("argmax"), H, W), H * W / 1000);
}

TEST(ClimateNetPredict, ProbabilitiesEqualPyTorchAtFullResolution) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  const int64_t H = 768, W = 1152;
  test::TempDir dir;
  Prediction p = predict(dir, H, W);
  h5::File ref = h5::File::open(test::test_data() / "nets" / "cgnet_climatenet_ref.h5");
  h5::Group g = ref.open_group("768x1152");
  // Every 4th pixel of the whole field (upsampling phases 0 and 4 of 8).
  const int64_t s = g.attr_int64("stride");
  Tensor strided = g.read_tensor("prob_strided");
  const int64_t h = strided.dim(1), w = strided.dim(2);
  ASSERT_EQ(h * s, H);
  ASSERT_EQ(w * s, W);
  double max_diff = 0;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j)
        max_diff =
            std::max(max_diff, double(std::abs(p.prob[(c * H + i * s) * W + j * s] - strided[(c * h + i) * w + j])));
  EXPECT_LE(max_diff, 1e-4) << "strided";
  // Full-resolution 48x48 windows (every phase; both poles, the longitude seam and a cyclone).
  h5::Group windows = g.open_group("windows");
  const std::vector<std::string> names = windows.members();
  EXPECT_EQ(names.size(), 3u);
  for (const std::string& name : names) {
    int r0 = 0, c0 = 0;
    ASSERT_EQ(std::sscanf(name.c_str(), "r%d_c%d", &r0, &c0), 2) << name;
    Tensor win = windows.read_tensor(name);
    ASSERT_EQ(win.shape(), (Shape{3, 48, 48})) << name;
    double wmax = 0;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < 48; ++i)
        for (int64_t j = 0; j < 48; ++j)
          wmax = std::max(wmax, double(std::abs(p.prob[(c * H + r0 + i) * W + c0 + j] - win[(c * 48 + i) * 48 + j])));
    EXPECT_LE(wmax, 1e-4) << "window " << name;
  }
  // PyTorch's argmax at every pixel: equal except where two probabilities tie within rounding.
  EXPECT_LE(check_mask(p, g.read_tensor("argmax"), H, W), 2);
  int64_t tc = 0;
  for (int64_t k = 0; k < H * W; ++k) tc += p.mask[k] == 1;
  EXPECT_GT(tc, 1000) << "the storms of the synthetic input are found";
}
