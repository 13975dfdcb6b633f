// ClimateNet's published weights through `climseg predict`, end to end: the reference input of
// tests/reference/nets/make_cgnet_reference.py written as a CF NetCDF file (latitude ascending, the
// four variables named as the weights file's `fields` attribute says), predicted with
// --probabilities; prob_<class> must equal PyTorch's softmax (torch 1.13, eval mode) within 1e-4
// and class_mask must be the argmax of those probabilities (and the same without --probabilities,
// where the network stops at the logits). --batchnorm batch against PyTorch's
// train-mode forward; the same input in ERA5, MERRA-2 and NCEP names and units, found and
// converted without --channels.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
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
  // The units ClimateNet trained on: predict converts other units, and refuses incompatible ones.
  const std::map<std::string, std::string> units = {
      {"TMQ", "kg m-2"}, {"U850", "m s-1"}, {"V850", "m s-1"}, {"PSL", "Pa"}};
  for (const std::string& f : fields) s.variables.push_back(io::float_field(f, units.at(f), f));
  s.provenance.command_line = "test";
  s.provenance.timestamp = false;
  io::CfWriter w(path, s);
  w.append_time(0.0);
  Tensor raw = test::cgnet_synthetic_input(H, W);  // (4, H, W) in the order TMQ, U850, V850, PSL
  for (size_t c = 0; c < fields.size(); ++c) w.write(fields[c], 0, raw.data() + static_cast<int64_t>(c) * H * W);
  w.close();
}

// The reference input as three archives lay it out, none with ClimateNet's names:
//   era5:  tcwv (kg m**-2) and msl (hPa) with standard names; u and v (m s**-1) with standard
//          names on pressure levels 1000, 850, 500 millibars (850 holds the field, the others
//          nonsense); u10 and v10 without standard names beside them.
//   merra2: IWV (kg m-2, no standard name), U850, V850 (m s-1), SLP (Pa): MERRA-2's names.
//   ncep:  PREH2O in mm of water, PSL in millibars, U and V on lev (1000, 850 millibars), no
//          standard names: NCEP's climatology names and units.
//   psl_hpa: ClimateNet's names, PSL in hPa.
void write_variant(const fs::path& path, const std::string& kind, int64_t H, int64_t W) {
  io::OutputSpec s;
  s.grid = geo::Grid::cam(H, W);
  s.set_time("hours since 1900-01-01 00:00:00", "gregorian");
  s.provenance.command_line = "test";
  s.provenance.timestamp = false;
  const Tensor raw = test::cgnet_synthetic_input(H, W);  // TMQ, U850, V850, PSL
  const int64_t n = H * W;
  auto plane = [&](int c, double scale) {
    std::vector<float> v(raw.data() + c * n, raw.data() + (c + 1) * n);
    for (float& x : v) x = static_cast<float>(x * scale);
    return v;
  };
  auto field = [](const std::string& name, const std::string& units, const std::string& sn,
                  std::vector<std::string> dims = io::grid_dims()) {
    io::VarDef v = io::float_field(name, units, name, std::move(dims));
    if (!sn.empty()) v.attrs.push_back(io::Attr::str("standard_name", sn));
    return v;
  };
  std::vector<std::pair<std::string, std::vector<float>>> data;
  std::vector<double> levels;
  if (kind == "era5") {
    levels = {1000, 850, 500};
    s.variables = {field("tcwv", "kg m**-2", "atmosphere_mass_content_of_water_vapor"),
                   field("msl", "hPa", "air_pressure_at_mean_sea_level"),
                   field("u", "m s**-1", "eastward_wind", {io::kTimeAxis, "level", io::kLatAxis, io::kLonAxis}),
                   field("v", "m s**-1", "northward_wind", {io::kTimeAxis, "level", io::kLatAxis, io::kLonAxis}),
                   field("u10", "m s**-1", ""),
                   field("v10", "m s**-1", "")};
    data = {{"tcwv", plane(0, 1)}, {"msl", plane(3, 0.01)}, {"u10", plane(1, 0.5)}, {"v10", plane(2, 0.5)}};
  } else if (kind == "merra2") {
    s.variables = {field("IWV", "kg m-2", ""), field("U850", "m s-1", ""), field("V850", "m s-1", ""),
                   field("SLP", "Pa", "")};
    data = {{"IWV", plane(0, 1)}, {"U850", plane(1, 1)}, {"V850", plane(2, 1)}, {"SLP", plane(3, 1)}};
  } else if (kind == "psl_hpa") {
    s.variables = {field("TMQ", "kg m-2", ""), field("U850", "m s-1", ""), field("V850", "m s-1", ""),
                   field("PSL", "hPa", "")};
    data = {{"TMQ", plane(0, 1)}, {"U850", plane(1, 1)}, {"V850", plane(2, 1)}, {"PSL", plane(3, 0.01)}};
  } else {
    levels = {1000, 850};
    s.variables = {field("PREH2O", "mm", ""), field("PSL", "millibars", ""),
                   field("U", "m/s", "", {io::kTimeAxis, "level", io::kLatAxis, io::kLonAxis}),
                   field("V", "m/s", "", {io::kTimeAxis, "level", io::kLatAxis, io::kLonAxis})};
    data = {{"PREH2O", plane(0, 1)}, {"PSL", plane(3, 0.01)}};
  }
  if (!levels.empty()) {
    s.dims = {{"level", static_cast<int64_t>(levels.size())}};
    io::VarDef lev;
    lev.name = "level";
    lev.type = NC_DOUBLE;
    lev.dims = {"level"};
    lev.attrs = {io::Attr::str("units", "millibars"), io::Attr::str("long_name", "pressure level")};
    if (kind == "era5") lev.attrs.push_back(io::Attr::str("standard_name", "air_pressure"));
    s.variables.push_back(lev);
  }
  io::CfWriter w(path, s);
  w.append_time(836316.0);
  for (const auto& [name, v] : data) w.write(name, 0, v.data());
  if (!levels.empty()) {
    w.write_values("level", levels);
    const auto L = static_cast<int64_t>(levels.size());
    for (int c : {1, 2}) {
      std::vector<float> all(static_cast<size_t>(L * n), 999.0f);  // nonsense off 850 hPa
      const std::vector<float> at850 = plane(c, 1);
      std::copy(at850.begin(), at850.end(), all.begin() + n);  // level index 1 is 850
      w.write(kind == "era5" ? (c == 1 ? "u" : "v") : (c == 1 ? "U" : "V"), 0, all.data());
    }
  }
  w.close();
}

struct Prediction {
  Tensor prob;            // (3, H, W) as written: prob_Background, prob_Tropical_Cyclone, prob_Atmospheric_River
  Tensor mask;            // (1, H, W) class_mask
  std::string batchnorm;  // the global attribute
  std::string err;        // predict's stderr
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
  p.batchnorm = f.attr_string("batchnorm");
  p.err = r.err;
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

// class_mask of `predict` without --probabilities (the network stops at the logits, the mask is their
// softmax's argmax without the probabilities being stored), on the input predict() wrote; returns
// how many cells differ from `with_probabilities` (bit for bit: the same floats, NaN included).
int64_t mask_only_differences(const test::TempDir& dir, int64_t H, int64_t W, const Tensor& with_probabilities) {
  const std::string tag = std::to_string(H) + "x" + std::to_string(W);
  const fs::path in = dir / ("ref_" + tag + ".nc"), out = dir / ("mask_" + tag);
  test::RunResult r = test::run_climseg("--threads 2 --no-progress predict --model '" + weights_file().string() +
                                        "' --in '" + in.string() + "' --out '" + out.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  h5::File f = h5::File::open(out / ("ref_" + tag + ".climseg.nc"));
  EXPECT_FALSE(f.has_dataset("prob_Background"));
  const Tensor mask = f.read_tensor("class_mask");
  EXPECT_EQ(mask.shape(), with_probabilities.shape());
  int64_t differ = 0;
  for (int64_t k = 0; k < std::min(mask.numel(), with_probabilities.numel()); ++k)
    differ += std::bit_cast<uint32_t>(mask[k]) != std::bit_cast<uint32_t>(with_probabilities[k]);
  return differ;
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
  EXPECT_EQ(mask_only_differences(dir, H, W, p.mask), 0);
  // ClimateNet trained at 768x1152: on another grid predict says so and suggests --regrid.
  EXPECT_NE(p.err.find("the model was trained on a 768x1152 grid and this archive is 96x144"), std::string::npos)
      << p.err;
  EXPECT_NE(p.err.find("--regrid runs the network on the training grid"), std::string::npos) << p.err;
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
  if (CLIMSEG_HAS_KERNEL_DISPATCH) {  // a native build refuses CLIMSEG_ISA=avx2 itself
    test::RunResult low = test::run_command("env CLIMSEG_ISA=avx2 " + test::climseg_exe().string() + " " + args);
    EXPECT_EQ(low.exit_code, 2) << low.err;
    EXPECT_EQ(low.err.rfind("climseg: error: --precision bf16 needs ", 0), 0u) << low.err;
    EXPECT_EQ(std::count(low.err.begin(), low.err.end(), '\n'), 1) << low.err;
    EXPECT_EQ(fs::last_write_time(out / "ref_96x144.climseg.nc"), written);
  }
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

// --batchnorm batch against PyTorch's train-mode forward (tests/reference/nets/
// make_cgnet_batchnorm_reference.py): the published running statistics give background
// everywhere on this input, each sample's own statistics give cyclone and river pixels.
TEST(ClimateNetPredict, BatchStatisticsEqualPyTorchTrainMode) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  const int64_t H = 96, W = 144;
  test::TempDir dir;
  Prediction p = predict(dir, H, W, "--batchnorm batch");
  EXPECT_EQ(p.batchnorm.rfind("batch:", 0), 0u) << p.batchnorm;
  h5::File ref = h5::File::open(test::test_data() / "nets" / "cgnet_climatenet_batchnorm_ref.h5");
  h5::Group g = ref.open_group("96x144");
  Tensor expect = g.read_tensor("prob");
  ASSERT_EQ(expect.shape(), (Shape{3, H, W}));
  double max_diff = 0;
  for (int64_t k = 0; k < 3 * H * W; ++k) max_diff = std::max(max_diff, double(std::abs(p.prob[k] - expect[k])));
  EXPECT_LE(max_diff, 1e-4);
  EXPECT_LE(check_mask(p, g.read_tensor("argmax"), H, W), 2);
  // The two modes differ where it matters: classes appear only with batch statistics.
  Tensor running = g.read_tensor("counts_running"), batch = g.read_tensor("counts_batch");
  EXPECT_EQ(running[1] + running[2], 0.0f);
  EXPECT_GT(batch[1], 0.0f);
  EXPECT_GT(batch[2], 0.0f);
  int64_t cyclone = 0;
  for (int64_t k = 0; k < H * W; ++k) cyclone += p.mask[k] == 1.0f;
  EXPECT_NEAR(double(cyclone), double(batch[1]), 2.0);
  // The default records the running statistics.
  Prediction r = predict(dir, H, W);
  EXPECT_EQ(r.batchnorm.rfind("running:", 0), 0u) << r.batchnorm;
}

// Issue 16 item 3: ERA5, MERRA-2 and NCEP names and units run with ClimateNet's weights without
// --channels, found by standard name and level (ERA5) or by the names those archives use (MERRA-2,
// NCEP), converted to the units ClimateNet trained on (hPa and millibars -> Pa, mm of water ->
// kg m-2), and give PyTorch's probabilities on the reference input. (climseg used to stop at
// "unknown variable 'TMQ'".)
TEST(ClimateNetPredict, Era5Merra2AndNcepLayoutsRunWithoutMapping) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  const int64_t H = 96, W = 144;
  test::TempDir dir;
  h5::File ref = h5::File::open(test::test_data() / "nets" / "cgnet_climatenet_ref.h5");
  Tensor expect = ref.open_group("96x144").read_tensor("prob_strided");
  const std::map<std::string, std::string> inputs = {
      {"era5", "TMQ=tcwv [kg m**-2], U850=u@850hPa [m s**-1], V850=v@850hPa [m s**-1], PSL=msl [hPa -> Pa]"},
      {"merra2", "TMQ=IWV [kg m-2], U850=U@850 [m s-1], V850=V@850 [m s-1], PSL=SLP [Pa]"},
      {"ncep", "TMQ=PREH2O [mm -> kg m-2], U850=U@850 [m/s], V850=V@850 [m/s], PSL=PSL [millibars -> Pa]"},
      // ClimateNet's names, PSL in hPa (fed as hPa before: probabilities off by up to 1.7e-3).
      {"psl_hpa", "TMQ=TMQ [kg m-2], U850=U@850 [m s-1], V850=V@850 [m s-1], PSL=PSL [hPa -> Pa]"}};
  for (const auto& [kind, described] : inputs) {
    const fs::path in = dir / (kind + ".nc"), out = dir / ("pred_" + kind);
    write_variant(in, kind, H, W);
    test::RunResult r = test::run_climseg("--threads 1 --no-progress predict --model '" + weights_file().string() +
                                          "' --in '" + in.string() + "' --out '" + out.string() + "' --probabilities");
    ASSERT_EQ(r.exit_code, 0) << kind << ": " << r.err;
    h5::File f = h5::File::open(out / (kind + ".climseg.nc"));
    EXPECT_EQ(f.attr_string("input_channels"), described) << kind;
    EXPECT_EQ(f.attr_string("model_channels"), "TMQ,U850,V850,PSL");
    double max_diff = 0;
    const char* names[] = {"prob_Background", "prob_Tropical_Cyclone", "prob_Atmospheric_River"};
    for (int64_t c = 0; c < 3; ++c) {
      Tensor t = f.read_tensor(names[c]);
      for (int64_t k = 0; k < H * W; ++k) max_diff = std::max(max_diff, double(std::abs(t[k] - expect[c * H * W + k])));
    }
    EXPECT_LE(max_diff, 1e-4) << kind;
  }
  // A file with none of them (total column water is not water vapour, surface pressure not PSL):
  // what is missing, what was tried,
  // what the file has and the option that maps it, in one line.
  const fs::path bare = dir / "bare.nc";
  {
    io::OutputSpec s;
    s.grid = geo::Grid::cam(H, W);
    s.set_time("hours since 1900-01-01 00:00:00", "standard");
    s.provenance.command_line = "test";
    s.provenance.timestamp = false;
    s.variables = {io::float_field("tcw", "kg m**-2", "total column water"),
                   io::float_field("sp", "Pa", "surface pressure")};
    s.variables.back().attrs.push_back(io::Attr::str("standard_name", "surface_air_pressure"));
    io::CfWriter w(bare, s);
    w.append_time(0);
    std::vector<float> v(static_cast<size_t>(H * W), 1.0f);
    w.write("tcw", 0, v.data());
    w.write("sp", 0, v.data());
    w.close();
  }
  test::RunResult r = test::run_climseg("--no-progress predict --model '" + weights_file().string() + "' --in '" +
                                        bare.string() + "' --out '" + (dir / "pred_bare").string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("bare.nc: 4 of the 4 channels are missing: TMQ (kg m-2, atmosphere_mass_content_of_water_vapor):"
                       " no variable TMQ, none with standard_name atmosphere_mass_content_of_water_vapor or "
                       "lwe_thickness_of_atmosphere_mass_content_of_water_vapor, none of IWV, tcwv, prw, PREH2O, TQV"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the file has tcw, sp (surface_air_pressure); name the variable of each with --channels "
                       "TMQ=VAR,U850=VAR,V850=VAR,PSL=VAR"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("climseg: error:"), r.err.rfind("climseg: error:")) << r.err;
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
  // Without --probabilities: the same mask, cell for cell.
  EXPECT_EQ(mask_only_differences(dir, H, W, p.mask), 0);
  int64_t tc = 0;
  for (int64_t k = 0; k < H * W; ++k) tc += p.mask[k] == 1;
  EXPECT_GT(tc, 1000) << "the storms of the synthetic input are found";
}
