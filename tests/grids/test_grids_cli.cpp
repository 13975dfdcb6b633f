// Unstructured columns through the command line, on the real CAM-SE ne30np4 file and synthetic
// column archives: inspect describes the cubed sphere, stats matches numpy, and bad inputs are
// refused in one line.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "analysis/plot.hpp"
#include "core/atomic_file.hpp"
#include "geo/cubed_sphere.hpp"
#include "readers/column_file.hpp"
#include "test_support.hpp"

using namespace climseg;
namespace fs = std::filesystem;

namespace {

bool have_numpy() { return test::run_command("/usr/bin/python3 -c 'import numpy, netCDF4'").exit_code == 0; }

}  // namespace

TEST(GridsCli, InspectDescribesTheRealCubedSphere) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  const auto path = test::real_file("geocat_camse_unstructured_grid.nc");
  auto r = test::run_climseg("inspect " + path.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("grid: unstructured, cubed sphere ne30np4: 48602 columns over ncol (lat, lon)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Voronoi cells of the columns, global"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("channels: T850"), std::string::npos) << r.out;
  r = test::run_climseg("inspect --json " + path.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["semantic"]["grid"]["columns"], 48602);
  EXPECT_EQ(j["semantic"]["grid"]["triangles"], 2 * 48602 - 4);
  EXPECT_NEAR(j["semantic"]["grid"]["area_of_sphere"].get<double>(), 1.0, 1e-12);
}

TEST(GridsCli, StatsOfTheRealFileMatchNumpy) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy and netCDF4 not found";
  test::TempDir dir;
  const auto path = test::real_file("geocat_camse_unstructured_grid.nc");
  auto r = test::run_climseg(fmt::format("--no-progress stats --in {} --out {} --percentiles 5,50,95", path.string(),
                                         (dir / "s.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(read_file(dir / "s.json"));
  const auto& c = j["channels"][0];
  EXPECT_EQ(c["name"], "T850");
  r = test::run_command(
      "/usr/bin/python3 -c \"import netCDF4, numpy as np; "
      "t = netCDF4.Dataset('" +
      path.string() +
      "')['T850'][:].astype(np.float64); "
      "print(t.size, repr(t.mean()), repr(t.std()), repr(t.min()), repr(t.max()), "
      "*[repr(np.percentile(t, p)) for p in (5, 50, 95)])\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  double n, mean, sd, lo, hi, p5, p50, p95;
  in >> n >> mean >> sd >> lo >> hi >> p5 >> p50 >> p95;
  EXPECT_EQ(c["count"].get<double>(), n);
  EXPECT_NEAR(c["mean"].get<double>(), mean, 1e-9 * mean);
  EXPECT_NEAR(c["std"].get<double>(), sd, 1e-9 * sd);
  EXPECT_EQ(c["min"].get<double>(), lo);
  EXPECT_EQ(c["max"].get<double>(), hi);
  // Percentiles from a 65,536-bin histogram: within a bin, (max - min) / 65536.
  const double bin = (hi - lo) / 65536.0;
  EXPECT_NEAR(c["percentiles"]["5"].get<double>(), p5, bin);
  EXPECT_NEAR(c["percentiles"]["50"].get<double>(), p50, bin);
  EXPECT_NEAR(c["percentiles"]["95"].get<double>(), p95, bin);
  std::printf("T850: climseg mean %.9g std %.9g, numpy mean %.9g std %.9g\n", c["mean"].get<double>(),
              c["std"].get<double>(), mean, sd);

  // Area-weighted: by the columns' Voronoi cells; the weights sum to the sphere, so the weighted mean
  // lies between the extremes and differs from the plain one (polar columns are smaller).
  r = test::run_climseg(
      fmt::format("--no-progress stats --in {} --out {} --area-weighted", path.string(), (dir / "w.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto w = nlohmann::json::parse(read_file(dir / "w.json"));
  EXPECT_TRUE(w["area_weighted"].get<bool>());
  const double wm = w["channels"][0]["mean"].get<double>();
  EXPECT_GT(wm, lo);
  EXPECT_LT(wm, hi);
  EXPECT_GT(std::abs(wm - mean), 1e-3);
}

TEST(GridsCli, ColumnInputsAreRefusedInOneLineWhereUnsupported) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  const auto path = test::real_file("geocat_camse_unstructured_grid.nc");
  auto r = test::run_climseg(
      fmt::format("--no-progress stats --in {} --out {} --vars T999", path.string(), (dir / "s.json").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no field 'T999' over the columns (fields: T850)"), std::string::npos) << r.err;
  r = test::run_climseg(fmt::format("--no-progress stats --in {} --out {} --percentile-map 99 --out-map {}",
                                    path.string(), (dir / "s.json").string(), (dir / "m.nc").string()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--percentile-map: lat-lon archives only"), std::string::npos) << r.err;
  // predict on columns (--remap) does not yet honour issue 16's --batchnorm batch, --units and
  // --fill-policy: each is refused, naming the option, rather than silently ignored.
  const fs::path model = test::test_data().parent_path().parent_path() / "data" / "models" / "cgnet_synth_96x144.h5";
  for (const std::string opt : {"--batchnorm batch", "--units T850=K", "--fill-policy mean"}) {
    r = test::run_climseg(fmt::format("--no-progress predict -m {} --in {} --out {} --remap 48x72 {}", model.string(),
                                      path.string(), (dir / "p").string(), opt));
    EXPECT_EQ(r.exit_code, 2) << opt << "\n" << r.err;
    EXPECT_NE(r.err.find(opt.substr(0, opt.find(' '))), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("unstructured inputs"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "p" / "geocat_camse_unstructured_grid.climseg.nc"));
  }
}

TEST(GridsCli, PredictRemapEqualsPredictingTheRemappedFieldAndRemappingBack) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  const fs::path weights = test::shared_data() / "climatenet" / "cgnet_climatenet.h5";
  if (!fs::exists(weights)) GTEST_SKIP() << weights << " not found";
  test::TempDir dir;
  const fs::path cols = dir / "cols", a = dir / "a", ll = dir / "ll", pll = dir / "pll", back = dir / "back";
  auto run = [](const std::string& args) {
    const auto r = test::run_climseg("--no-progress -q " + args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    return r.exit_code == 0;
  };
  ASSERT_TRUE(run(fmt::format("synth --out {} --grid ne30np4 --steps 1 --hours 6 --seed 5", cols.string())));
  const fs::path input = cols / "synth.cam.h2.2000-01-01-00000.nc";
  // One way: ClimateNet's CGNet on the columns through a 384x576 grid and back (768x1152, its
  // training grid, gives the same equality at four times the cost).
  ASSERT_TRUE(run(fmt::format("predict -m {} --in {} --out {} --remap 384x576 --probabilities", weights.string(),
                              input.string(), a.string())));
  // The other: remap the fields, predict on the lat-lon files, remap the probabilities back.
  ASSERT_TRUE(
      run(fmt::format("remap --in {} --to 384x576 --vars TMQ,U850,V850,PSL --out {}", input.string(), ll.string())));
  ASSERT_TRUE(
      run(fmt::format("predict -m {} --in {} --out {} --probabilities", weights.string(), ll.string(), pll.string())));
  const std::string probs = "prob_Background,prob_Tropical_Cyclone,prob_Atmospheric_River";
  ASSERT_TRUE(
      run(fmt::format("remap --in {} --to {} --vars {} --out {}", pll.string(), input.string(), probs, back.string())));
  const fs::path pa = a / "synth.cam.h2.2000-01-01-00000.climseg.nc";
  const fs::path pb = back / "synth.cam.h2.2000-01-01-00000.remap.climseg.remap.nc";
  ASSERT_TRUE(fs::exists(pa));
  ASSERT_TRUE(fs::exists(pb)) << "outputs: " << [&] {
    std::string s;
    for (const auto& e : fs::directory_iterator(back)) s += e.path().filename().string() + " ";
    return s;
  }();
  int64_t cyclone = 0, river = 0;
  for (int64_t t = 0; t < 1; ++t) {
    const std::vector<float> mask = io::read_column_step(pa, "class_mask", "ncol", t);
    std::vector<std::vector<float>> pa_k, pb_k;
    for (const char* p : {"prob_Background", "prob_Tropical_Cyclone", "prob_Atmospheric_River"}) {
      pa_k.push_back(io::read_column_step(pa, p, "ncol", t));
      pb_k.push_back(io::read_column_step(pb, p, "ncol", t));
    }
    ASSERT_EQ(mask.size(), 48602u);
    for (size_t i = 0; i < mask.size(); ++i) {
      int best = 0;
      for (int k = 0; k < 3; ++k) {
        ASSERT_EQ(pa_k[size_t(k)][i], pb_k[size_t(k)][i]) << "column " << i << " class " << k;
        if (pb_k[size_t(k)][i] > pb_k[size_t(best)][i]) best = k;
      }
      ASSERT_EQ(int(mask[i]), best) << "column " << i;
      cyclone += best == 1;
      river += best == 2;
    }
  }
  std::printf("predict --remap on ne30np4 through 384x576: %lld cyclone and %lld river columns, equal both ways\n",
              (long long)cyclone, (long long)river);
  EXPECT_GT(cyclone, 0);  // both classes occur: the comparison is not of empty masks
  EXPECT_GT(river, 0);
}

namespace {

struct TrackScore {
  int64_t planted = 0, planted_matched = 0, detected = 0, detected_matched = 0;
  double recall() const { return double(planted_matched) / double(std::max<int64_t>(1, planted)); }
  double precision() const { return double(detected_matched) / double(std::max<int64_t>(1, detected)); }
};

double degrees_apart(double lat1, double lon1, double lat2, double lon2) {
  const double d = M_PI / 180;
  const double x =
      std::sin(lat1 * d) * std::sin(lat2 * d) + std::cos(lat1 * d) * std::cos(lat2 * d) * std::cos((lon2 - lon1) * d);
  return std::acos(std::clamp(x, -1.0, 1.0)) / d;
}

// Track points of `tracks` (tc_tracks.csv) against the planted centres of `truth` (synth_cyclones.csv),
// matched within 2 degrees of great circle at the same step.
TrackScore score_tracks(const fs::path& truth, const fs::path& tracks) {
  std::map<int64_t, std::vector<std::pair<double, double>>> t, f;
  for (const auto& r : test::read_csv(truth))
    t[std::stoll(r.at("step"))].push_back({std::stod(r.at("lat")), std::stod(r.at("lon"))});
  for (const auto& r : test::read_csv(tracks))
    f[std::stoll(r.at("step"))].push_back({std::stod(r.at("lat")), std::stod(r.at("lon"))});
  auto near = [](const std::pair<double, double>& p, const std::vector<std::pair<double, double>>& q) {
    for (const auto& x : q)
      if (degrees_apart(p.first, p.second, x.first, x.second) <= 2.0) return true;
    return false;
  };
  TrackScore s;
  for (const auto& [step, pts] : t)
    for (const auto& p : pts) {
      ++s.planted;
      s.planted_matched += f.count(step) && near(p, f.at(step));
    }
  for (const auto& [step, pts] : f)
    for (const auto& p : pts) {
      ++s.detected;
      s.detected_matched += t.count(step) && near(p, t.at(step));
    }
  return s;
}

// One synthetic ne30np4 archive for the label tests: 24 six-hourly steps in 3 files, seed 1.
class LabelColumns : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    const auto r = test::run_climseg(
        fmt::format("--no-progress -q synth --out {} --grid ne30np4 --steps 24 --steps-per-file 8 --hours 6 --seed 1",
                    cols().string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path cols() { return *dir_ / "cols"; }
  static fs::path dir() { return dir_->path(); }
  static inline test::TempDir* dir_ = nullptr;
  static constexpr const char* kFiles[3] = {"synth.cam.h2.2000-01-01-00000", "synth.cam.h2.2000-01-03-00000",
                                            "synth.cam.h2.2000-01-05-00000"};
};

}  // namespace

// `climseg label` on the column files (the pipeline, not the detectors alone): track points against
// the planted storms, LABELS on the native columns against the planted class maps, CF coordinates
// copied from the input.
TEST_F(LabelColumns, TracksMeetTheIssuesCriteriaAndLabelsLieOnTheNativeColumns) {
  const fs::path out = dir() / "l1";
  auto r = test::run_climseg(fmt::format("--no-progress -q label --in {} --out {}", cols().string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const TrackScore c = score_tracks(cols() / "synth_cyclones.csv", out / "tc_tracks.csv");
  std::printf("label on ne30np4 columns: %lld planted points, recall %.3f, precision %.3f (%lld track points)\n",
              (long long)c.planted, c.recall(), c.precision(), (long long)c.detected);
  ASSERT_GT(c.planted, 40);
  EXPECT_GE(c.recall(), 0.95);
  EXPECT_GE(c.precision(), 0.90);
  int64_t inter[3] = {0, 0, 0}, uni[3] = {0, 0, 0};
  for (const char* f : kFiles) {
    const fs::path truth = cols() / (std::string(f) + ".nc"), found = out / (std::string(f) + ".labels.nc");
    ASSERT_TRUE(fs::exists(found)) << found;
    // CF: lat(ncol), lon(ncol) as the input holds them.
    EXPECT_EQ(io::read_column_step(found, "lat", "ncol", 0), io::read_column_step(truth, "lat", "ncol", 0));
    EXPECT_EQ(io::read_column_step(found, "lon", "ncol", 0), io::read_column_step(truth, "lon", "ncol", 0));
    EXPECT_EQ(io::column_steps(found, "LABELS", "ncol"), 8);
    for (int64_t t = 0; t < 8; ++t) {
      const auto a = io::read_column_step(truth, "LABELS", "ncol", t),
                 b = io::read_column_step(found, "LABELS", "ncol", t);
      ASSERT_EQ(a.size(), 48602u);
      ASSERT_EQ(b.size(), 48602u);
      for (size_t k = 0; k < a.size(); ++k)
        for (int cls : {1, 2}) {
          inter[cls] += a[k] == cls && b[k] == cls;
          uni[cls] += a[k] == cls || b[k] == cls;
        }
    }
  }
  const double iou_c = double(inter[1]) / double(std::max<int64_t>(1, uni[1]));
  const double iou_r = double(inter[2]) / double(std::max<int64_t>(1, uni[2]));
  std::printf("label on ne30np4 columns: cyclone-mask IoU %.3f, river IoU (TMQ) %.3f\n", iou_c, iou_r);
  EXPECT_GT(iou_c, 0.3);
  EXPECT_GT(iou_r, 0.3);
  const auto j = nlohmann::json::parse(read_file(out / "label_summary.json"));
  EXPECT_EQ(j["samples"], 24);
  EXPECT_EQ(j["grid"], "48602 columns (cubed sphere ne30np4)");
  EXPECT_EQ(j["roles"]["psl"], "PSL");
  EXPECT_GT(j["classes"]["tropical_cyclone"]["cells"].get<int64_t>(), 0);
  std::set<std::string> ids;
  for (const auto& row : test::read_csv(out / "tc_tracks.csv")) ids.insert(row.at("track_id"));
  EXPECT_EQ(j["cyclone_tracks"].get<int64_t>(), int64_t(ids.size()));

  // Rerun: kept when the key matches (files untouched), refused with --no-overwrite when an option
  // differs (naming it), redone with --overwrite.
  const fs::path first = out / (std::string(kFiles[0]) + ".labels.nc");
  const auto t0 = fs::last_write_time(first);
  r = test::run_climseg(fmt::format("--no-progress label --in {} --out {}", cols().string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fs::last_write_time(first), t0);
  EXPECT_NE(r.err.find("kept 3 label file(s)"), std::string::npos) << r.err;
  r = test::run_climseg(fmt::format("--no-progress -q label --in {} --out {} --tmq-threshold 30 --no-overwrite",
                                    cols().string(), out.string()));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--tmq-threshold"), std::string::npos) << r.err;
  EXPECT_EQ(fs::last_write_time(first), t0);
  r = test::run_climseg(
      fmt::format("--no-progress -q label --in {} --out {} --overwrite", cols().string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(fs::last_write_time(first), t0);
}

// Two ranks split the steps (candidates) and files (masks) and write what one rank writes.
TEST_F(LabelColumns, TwoRanksWriteWhatOneRankWrites) {
  const fs::path one = dir() / "one", two = dir() / "two";
  auto r = test::run_climseg(
      fmt::format("--no-progress -q label --in {} --out {} --detect tc", cols().string(), one.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_command(fmt::format("{} {} --no-progress -q label --in {} --out {} --detect tc", test::mpiexec(2),
                                    test::climseg_exe().string(), cols().string(), two.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(one / "tc_tracks.csv"), read_file(two / "tc_tracks.csv"));
  EXPECT_GT(test::read_csv(one / "tc_tracks.csv").size(), 10u);
  for (const char* f : kFiles)
    for (int64_t t = 0; t < 8; ++t)
      EXPECT_EQ(io::read_column_step(one / (std::string(f) + ".labels.nc"), "LABELS", "ncol", t),
                io::read_column_step(two / (std::string(f) + ".labels.nc"), "LABELS", "ncol", t))
          << f << " step " << t;
}

// Longitudes in -180..180 in the input: the tables follow them, the labels do not change.
TEST_F(LabelColumns, TablesFollowTheInputsLongitudeConvention) {
  const fs::path signed_dir = dir() / "signed", a = dir() / "a", b = dir() / "b";
  fs::create_directories(signed_dir);
  const std::string f = kFiles[0];
  auto r = test::run_command(fmt::format("ncap2 -O -s 'where(lon >= 180) lon = lon - 360;' {} {}",
                                         (cols() / (f + ".nc")).string(), (signed_dir / (f + ".nc")).string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(
      fmt::format("--no-progress -q label --in {} --out {}", (cols() / (f + ".nc")).string(), a.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(
      fmt::format("--no-progress -q label --in {} --out {}", (signed_dir / (f + ".nc")).string(), b.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ta = test::read_csv(a / "tc_tracks.csv"), tb = test::read_csv(b / "tc_tracks.csv");
  ASSERT_EQ(ta.size(), tb.size());
  ASSERT_GT(ta.size(), 0u);
  bool any_west = false;
  for (size_t k = 0; k < ta.size(); ++k) {
    const double la = std::stod(ta[k].at("lon")), lb = std::stod(tb[k].at("lon"));
    EXPECT_GE(la, 0.0);
    EXPECT_LT(la, 360.0);
    EXPECT_GE(lb, -180.0);
    EXPECT_LT(lb, 180.0);
    EXPECT_NEAR(std::remainder(la - lb, 360.0), 0.0, 1e-3) << k;
    any_west |= lb < 0;
  }
  EXPECT_TRUE(any_west) << "no track in the western hemisphere: the test would not see the convention";
  EXPECT_EQ(io::read_column_step(a / (f + ".labels.nc"), "LABELS", "ncol", 3),
            io::read_column_step(b / (f + ".labels.nc"), "LABELS", "ncol", 3));
  const auto lon_b = io::read_column_step(b / (f + ".labels.nc"), "lon", "ncol", 0);
  EXPECT_LT(*std::min_element(lon_b.begin(), lon_b.end()), 0.0f);  // copied from the input
}

// Options the column path cannot honour are refused in one line naming the option (exit 2), before
// any output.
TEST_F(LabelColumns, OptionsTheColumnPathCannotHonourAreRefused) {
  const fs::path out = dir() / "refused";
  for (const std::string opt :
       {"--detect tc,waves", "--with-data TMQ", "--ivt-threshold-field x.nc:IVT", "--var q3d=Q", "--var psl=PSL@850"}) {
    const auto r = test::run_climseg(
        fmt::format("--no-progress -q label --in {} --out {} {}", cols().string(), out.string(), opt));
    EXPECT_EQ(r.exit_code, 2) << opt << "\n" << r.err;
    EXPECT_NE(r.err.find(opt.substr(0, opt.find(' '))), std::string::npos) << opt << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out / "label_summary.json"));
  }
  const auto r = test::run_climseg(
      fmt::format("--no-progress -q label --in {} --out {} --var psl=SLP", cols().string(), out.string()));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no field 'SLP' over the columns (--var psl=SLP)"), std::string::npos) << r.err;
}

namespace {

std::vector<uint8_t> read_png_rgb(const fs::path& path, unsigned& width, unsigned& height) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  EXPECT_TRUE(png_image_begin_read_from_file(&img, path.c_str())) << path;
  img.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> rgb(PNG_IMAGE_SIZE(img));
  EXPECT_TRUE(png_image_finish_read(&img, nullptr, rgb.data(), 0, nullptr));
  width = img.width;
  height = img.height;
  return rgb;
}

double smooth_field(double lat, double lon) {
  const double d = M_PI / 180;
  return std::cos(lat * d) * std::cos(lon * d) + 0.5 * std::sin(lat * d);
}

}  // namespace

// plot on columns: a smooth field on the coarse ne4np4 columns (866, about 7° apart) drawn at one
// pixel per 0.5° raster cell; the colours of pixels away from the graticule, read back through the
// colour map, are the analytic field at the pixels' centres: linear on the triangles the error is
// the 8-bit colours' (at most 0.017, mean 0.003 of a colour bar of 2.4), where colouring each pixel
// from its nearest column would be off by up to 0.10 (mean 0.029).
TEST(GridsCli, PlotColoursColumnsFromTheTriangulation) {
  test::TempDir dir;
  std::vector<double> lat, lon;
  geo::cubed_sphere_nodes(4, 4, lat, lon);
  io::ColumnFileSpec spec;
  spec.lat = lat;
  spec.lon = lon;
  spec.time_units = "days since 2000-01-01 00:00:00";
  spec.calendar = "noleap";
  spec.variables.push_back({"F", NC_FLOAT, true, {io::Attr::str("units", "1")}, std::nullopt});
  std::vector<float> f(lat.size());
  for (size_t i = 0; i < f.size(); ++i) f[i] = float(smooth_field(lat[i], lon[i]));
  {
    io::ColumnWriter w(dir / "cols.nc", spec);
    w.write_time(0, 0.0);
    w.write("F", 0, f);
    w.close();
  }
  const auto r = test::run_climseg(
      fmt::format("--no-progress plot --in {} --var F --out {} --width 720 --vmin -1.2 --vmax 1.2 --no-coastlines",
                  (dir / "cols.nc").string(), (dir / "f.png").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  unsigned width = 0, height = 0;
  const std::vector<uint8_t> rgb = read_png_rgb(dir / "f.png", width, height);
  ASSERT_GE(width, 720u + 56u);
  ASSERT_GE(height, 360u + 64u);
  std::vector<std::array<int, 3>> ramp;
  for (int k = 0; k <= 2048; ++k) {
    const plot::Rgb c = plot::viridis(k / 2048.0);
    ramp.push_back({c.r, c.g, c.b});
  }
  const int x0 = 56, y0 = 64;  // the map's top-left pixel (analysis/plot.cpp's layout)
  double worst = 0, sum = 0;
  int sampled = 0;
  for (int k = 0; k < 400; ++k) {
    const int x = (k * 7919) % 720, y = 6 + (k * 104729) % 348;
    const double plon = -0.25 + (x + 0.5) * 0.5, plat = 90.0 - (y + 0.5) * 0.5;
    auto near_line = [](double v) { return std::abs(std::remainder(v, 30.0)) < 1.5; };
    if (near_line(plon) || near_line(plat)) continue;  // graticule lines are blended in
    const uint8_t* p = &rgb[(size_t(y0 + y) * width + size_t(x0 + x)) * 3];
    int best = 0, best_d = 1 << 30;
    for (size_t m = 0; m < ramp.size(); ++m) {
      const int d = (p[0] - ramp[m][0]) * (p[0] - ramp[m][0]) + (p[1] - ramp[m][1]) * (p[1] - ramp[m][1]) +
                    (p[2] - ramp[m][2]) * (p[2] - ramp[m][2]);
      if (d < best_d) {
        best_d = d;
        best = int(m);
      }
    }
    ASSERT_LE(best_d, 12) << "pixel " << x << "," << y << " is not a colour of the map";
    const double value = -1.2 + 2.4 * best / 2048.0, e = std::abs(value - smooth_field(plat, plon));
    worst = std::max(worst, e);
    sum += e;
    ++sampled;
  }
  std::printf("plot on ne4np4 columns: %d pixels, difference from the analytic field: largest %.4f, mean %.4f\n",
              sampled, worst, sum / sampled);
  EXPECT_GT(sampled, 200);
  EXPECT_LT(worst, 0.025);
  EXPECT_LT(sum / sampled, 0.01);
}

TEST(GridsCli, PlotDrawsTheRealFileOnAMap) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  const auto path = test::real_file("geocat_camse_unstructured_grid.nc");
  auto r = test::run_climseg(fmt::format("--no-progress plot --in {} --var T850 --out {} --no-coastlines",
                                         path.string(), (dir / "t.png").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  unsigned width = 0, height = 0;
  const std::vector<uint8_t> rgb = read_png_rgb(dir / "t.png", width, height);
  EXPECT_GT(width, 720u);
  // Every map pixel is coloured (no grey of missing values: the triangulation covers the sphere).
  int64_t grey = 0;
  for (unsigned y = 64; y < 64 + 360; ++y)
    for (unsigned x = 56; x < 56 + 720; ++x) {
      const uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
      grey += p[0] == 208 && p[1] == 208 && p[2] == 208;
    }
  EXPECT_EQ(grey, 0);
  r = test::run_climseg(
      fmt::format("--no-progress plot --in {} --var T999 --out {}", path.string(), (dir / "x.png").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("T999"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "x.png"));
}

// events on columns: four caps of two classes on ne8np4 columns, moving 2° between two steps. The
// components over the graph and their areas from the cells against scipy's connected components
// over the edges of the columns' convex hull (the spherical Delaunay triangulation, computed by
// Qhull, not climseg), with areas summed from the file's area variable.
TEST(GridsCli, EventsOnColumnsAreGraphComponentsWithCellAreas) {
  if (test::run_command("/usr/bin/python3 -c 'import numpy, netCDF4, scipy.spatial, scipy.sparse.csgraph'").exit_code !=
      0)
    GTEST_SKIP() << "/usr/bin/python3 with numpy, netCDF4 and scipy not found";
  test::TempDir dir;
  const geo::UnstructuredGrid g = geo::cubed_sphere_grid(*geo::parse_cubed_sphere("ne8np4"));
  io::ColumnFileSpec spec = io::column_spec(g);
  spec.time_units = "days since 2000-01-01 00:00:00";
  spec.calendar = "noleap";
  spec.variables.push_back({"LABELS", NC_BYTE, true, {io::Attr::str("units", "1")}, std::nullopt});
  struct Cap {
    double lat, lon, radius;
    int cls;
  };
  const Cap caps[] = {{10, 30, 8, 1}, {40, 200, 12, 2}, {-35, 100, 10, 2}, {-60, 300, 9, 1}};
  {
    io::ColumnWriter w(dir / "cols.nc", spec);
    for (int t = 0; t < 2; ++t) {
      std::vector<float> labels(size_t(g.size()), 0.0f);
      for (int64_t i = 0; i < g.size(); ++i)
        for (const Cap& c : caps)
          if (degrees_apart(g.lat[size_t(i)], g.lon[size_t(i)], c.lat, c.lon + 2.0 * t) <= c.radius)
            labels[size_t(i)] = float(c.cls);
      w.write_time(t, 0.25 * t);
      w.write("LABELS", t, labels);
    }
    w.close();
  }
  auto r = test::run_climseg(fmt::format("--no-progress -q events --in {} --out {} --no-plots",
                                         (dir / "cols.nc").string(), (dir / "ev").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // scipy: per step, the components of each class as "step class cells area_km2" lines.
  const std::string script = fmt::format(
      "import netCDF4, numpy as np\n"
      "from scipy.spatial import ConvexHull\n"
      "from scipy.sparse import coo_matrix\n"
      "from scipy.sparse.csgraph import connected_components\n"
      "d = netCDF4.Dataset('{}')\n"
      "lat, lon = np.radians(np.asarray(d['lat'][:])), np.radians(np.asarray(d['lon'][:]))\n"
      "area = np.asarray(d['area'][:])\n"
      "xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)\n"
      "s = ConvexHull(xyz).simplices\n"
      "e = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [2, 0]]])\n"
      "for t in range(d['LABELS'].shape[0]):\n"
      "  lab = np.asarray(d['LABELS'][t, :])\n"
      "  for c in (1, 2):\n"
      "    keep = (lab[e[:, 0]] == c) & (lab[e[:, 1]] == c)\n"
      "    n = len(lab)\n"
      "    a = coo_matrix((np.ones(keep.sum()), (e[keep, 0], e[keep, 1])), shape=(n, n))\n"
      "    k, ids = connected_components(a, directed=False)\n"
      "    for comp in np.unique(ids[lab == c]):\n"
      "      m = ids == comp\n"
      "      print(t, c, int(m.sum()), repr(float(area[m].sum() * 6.37122e6 ** 2 / 1e6)))\n",
      (dir / "cols.nc").string());
  {
    std::ofstream py(dir / "cc.py");
    py << script;
  }
  r = test::run_command("/usr/bin/python3 " + (dir / "cc.py").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::pair<int, int>, std::vector<double>> want, got;  // (step, class) -> sorted areas
  std::istringstream in(r.out);
  int t = 0, c = 0;
  int64_t cells = 0;
  double area = 0;
  while (in >> t >> c >> cells >> area) want[{t, c}].push_back(area);
  for (const auto& row : test::read_csv(dir / "ev" / "event_points.csv"))
    got[{std::stoi(row.at("step")), std::stoi(row.at("class"))}].push_back(std::stod(row.at("area_km2")));
  for (auto* m : {&want, &got})
    for (auto& [key, v] : *m) std::sort(v.begin(), v.end());
  ASSERT_EQ(want.size(), 4u) << r.out;  // 2 steps x 2 classes
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [key, areas] : want) {
    ASSERT_EQ(got[key].size(), areas.size()) << "step " << key.first << " class " << key.second;
    for (size_t k = 0; k < areas.size(); ++k) EXPECT_NEAR(got[key][k], areas[k], 1.0 + 1e-6 * areas[k]);
  }
  // Four events, each over both steps; their ids on the native columns wherever a class is.
  const auto events = test::read_csv(dir / "ev" / "events.csv");
  ASSERT_EQ(events.size(), 4u);
  for (const auto& e : events) EXPECT_EQ(e.at("steps"), "2");
  for (int64_t step = 0; step < 2; ++step) {
    const auto lab = io::read_column_step(dir / "cols.nc", "LABELS", "ncol", step);
    const auto ids = io::read_column_step(dir / "ev" / "event_ids.nc", "event_id", "ncol", step);
    ASSERT_EQ(ids.size(), lab.size());
    std::set<float> distinct;
    for (size_t k = 0; k < lab.size(); ++k) {
      EXPECT_EQ(lab[k] > 0, ids[k] > 0) << k;
      if (ids[k] > 0) distinct.insert(ids[k]);
    }
    EXPECT_EQ(distinct.size(), 4u);
  }
  EXPECT_EQ(io::read_column_step(dir / "ev" / "event_ids.nc", "lat", "ncol", 0),
            io::read_column_step(dir / "cols.nc", "lat", "ncol", 0));
}
