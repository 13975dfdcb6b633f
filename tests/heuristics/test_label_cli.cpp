// `climseg label`, `stats` and `bench label` end to end on small inputs: the January 1996 storm of
// the six geocat files (real data, skipped without ../shared/data), IVT from CAM hybrid levels,
// per-cell percentile thresholds from `climseg stats --percentile-map`, and the bench's JSON.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netcdf.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.hpp"
#include "geo/sphere.hpp"
#include "readers/netcdf_file.hpp"
#include "test_support.hpp"

using namespace climseg;
namespace fs = std::filesystem;

namespace {

double degrees_apart(double lat1, double lon1, double lat2, double lon2) {
  return geo::great_circle_m(lat1, lon1, lat2, lon2) / (geo::kEarthRadius * geo::kDegToRad);
}

fs::path reference(const std::string& name) {
  return fs::path(CLIMSEG_TEST_SOURCE_DIR) / "reference" / "heuristics" / name;
}

}  // namespace

TEST(LabelCli, StormTrackedThroughTheSixGeocatFiles) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  std::string in;
  for (const char* v : {"P", "T", "U", "V", "U500", "V500"})
    in += " " + test::real_file(std::string("geocat_") + v + "storm.cdf").string();
  // The settings of RealData.StormPressureMinimumTrackedThroughSixFiles (docs/detectors.md); no TMQ
  // or precipitation, so the cyclone masks come from the wind alone.
  const auto r = test::run_climseg(fmt::format(
      "--no-progress label --in {} --out {} --detect tc --var psl=p[Pstorm] --var u850=u[Ustorm] "
      "--var v850=v[Vstorm] --tc-min-vorticity 2e-5 --tc-pressure-delta 200 --tc-core-radius 5 "
      "--tc-contour-missing-directions 4 --tc-lat-min 20 --tc-lat-max 60 --tc-no-warm-core --tc-no-thickness "
      "--min-wind-speed 0 --min-wind-duration 1 --max-gap 1",
      in, (dir / "out").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("cyclone masks are made from the fields that are there (wind only)"), std::string::npos)
      << r.err;
  std::map<int64_t, std::array<double, 3>> numpy;  // step -> lat, lon, p (storm_reference.txt)
  std::ifstream ref(reference("storm_reference.txt"));
  ASSERT_TRUE(ref);
  std::string line;
  while (std::getline(ref, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    int64_t step = 0;
    std::array<double, 3> v{};
    s >> step >> v[0] >> v[1] >> v[2];
    numpy[step] = v;
  }
  ASSERT_EQ(numpy.size(), 12u);
  const auto rows = test::read_csv(dir / "out" / "tc_tracks.csv");
  std::string storm_id;
  for (const auto& row : rows)
    if (row.at("step") == "13" &&
        degrees_apart(std::stod(row.at("lat")), std::stod(row.at("lon")), numpy[13][0], numpy[13][1]) <= 2.0)
      storm_id = row.at("track_id");
  ASSERT_FALSE(storm_id.empty());
  std::vector<int64_t> steps;
  for (const auto& row : rows) {
    if (row.at("track_id") != storm_id) continue;
    const int64_t step = std::stoll(row.at("step"));
    steps.push_back(step);
    ASSERT_TRUE(numpy.count(step)) << step;
    EXPECT_LE(degrees_apart(std::stod(row.at("lat")), std::stod(row.at("lon")), numpy[step][0], numpy[step][1]), 2.0)
        << "step " << step;
    EXPECT_NEAR(std::stod(row.at("psl_min_pa")), numpy[step][2], 1.0) << "step " << step;
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{9, 10, 11, 12, 13, 14, 15, 16, 18}));
  // Labels were written (class 1 around the track points), and the summary records the settings.
  EXPECT_TRUE(fs::exists(dir / "out" / "geocat_Pstorm.labels.nc"));
  const std::string summary = read_file(dir / "out" / "label_summary.json");
  EXPECT_NE(summary.find("\"tracks_max_gap_steps\": 1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"tracks_require_warm_core\": false"), std::string::npos) << summary;
}

TEST(LabelCli, PercentileMapMatchesNumpyAndDrivesWaveLabels) {
  test::TempDir dir;
  auto r = test::run_climseg(fmt::format(
      "--no-progress -q synth --out {} --grid 96x144 --steps 8 --steps-per-file 4 --hours 6 --seed 3 --waves",
      (dir / "synth").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path waves = dir / "synth" / "waves", map = dir / "p.nc", stats = dir / "stats.json";
  r = test::run_climseg(fmt::format(
      "--no-progress -q stats --in {} --vars hs --percentiles 90 --percentile-map 90,99.5 --out-map {} --out {}",
      waves.string(), map.string(), stats.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Per-cell threshold: every wave cell exceeds its own 90th percentile (min area 0: no patch dropped).
  r = test::run_climseg(
      fmt::format("--no-progress -q label --in {} {} --out {} --detect waves --waves-threshold-field {}:hs_p90 "
                  "--waves-min-area 0",
                  (dir / "synth").string(), waves.string(), (dir / "field").string(), map.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(read_file(dir / "field" / "label_summary.json").find("\"waves_field\""), std::string::npos);
  // numpy: np.nanpercentile over time per cell, and the labels against the map.
  const fs::path check = fs::path(CLIMSEG_TEST_SOURCE_DIR) / "heuristics" / "percentile_map_check.py";
  r = test::run_command(fmt::format("/usr/bin/python3 {} {} {} {}", check.string(), waves.string(), map.string(),
                                    (dir / "field").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("max relative difference"), std::string::npos) << r.out << r.err;

  // pNN: the archive-wide 90th percentile from the stats file, resolved into label_summary.json.
  const auto st = nlohmann::json::parse(read_file(stats));
  const double p90 = st["channels"][0]["percentiles"]["90"].get<double>();
  r =
      test::run_climseg(fmt::format("--no-progress -q label --in {} {} --out {} --detect waves --waves-threshold p90 "
                                    "--stats {}",
                                    (dir / "synth").string(), waves.string(), (dir / "pnn").string(), stats.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = nlohmann::json::parse(read_file(dir / "pnn" / "label_summary.json"));
  EXPECT_DOUBLE_EQ(summary["thresholds"]["waves_hs_m"].get<double>(), p90);
  EXPECT_EQ(summary["thresholds"]["waves_given"].get<std::string>(), "p90");
  EXPECT_GT(summary["classes"]["extreme_waves"]["cells"].get<int64_t>(), 0);
  // A percentile the stats file lacks is a usage error naming the fix.
  r =
      test::run_climseg(fmt::format("--no-progress -q label --in {} {} --out {} --detect waves --waves-threshold p95 "
                                    "--stats {}",
                                    (dir / "synth").string(), waves.string(), (dir / "bad").string(), stats.string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--percentiles 95"), std::string::npos) << r.err;
}

TEST(LabelCli, IvtPercentileThresholdOnMerra) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  const std::string merra = test::real_file("climdeeplearn_IWV_IVT_MERRA_20170228_00.nc").string();
  auto r = test::run_climseg(fmt::format("--no-progress -q stats --in {} --vars IVT --percentiles 95 --out {}", merra,
                                         (dir / "s.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto st = nlohmann::json::parse(read_file(dir / "s.json"));
  const double p95 = st["channels"][0]["percentiles"]["95"].get<double>();
  EXPECT_GT(p95, 250);  // the 95th percentile of IVT that day
  r = test::run_climseg(
      fmt::format("--no-progress -q label --in {} --out {} --detect ar --ivt-threshold p95 --stats {}", merra,
                  (dir / "l").string(), (dir / "s.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = nlohmann::json::parse(read_file(dir / "l" / "label_summary.json"));
  EXPECT_DOUBLE_EQ(summary["thresholds"]["ivt_kg_m-1_s-1"].get<double>(), p95);
  // Every kept river's peak is at least the threshold (damping only lowers IVT).
  const auto rivers = test::read_csv(dir / "l" / "rivers.csv");
  ASSERT_FALSE(rivers.empty());
  for (const auto& row : rivers) EXPECT_GE(std::stod(row.at("peak")), p95);
}

TEST(LabelCli, IvtFromHybridLevelsEndToEnd) {
  test::TempDir dir;
  // Q, U, V on 30 CAM hybrid levels (hyam, hybm, P0, PS): IVT integrated by the label command at
  // p = hyam P0 + hybm PS; scored against the planted rivers.
  auto r = test::run_climseg(
      fmt::format("--no-progress -q synth --out {} --grid 192x288 --steps 8 --steps-per-file 4 --hours 6 --seed 5 "
                  "--levels hybrid",
                  (dir / "synth").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(fmt::format("--no-progress -q label --in {} --out {} --detect ar", (dir / "synth").string(),
                                    (dir / "l").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = nlohmann::json::parse(read_file(dir / "l" / "label_summary.json"));
  EXPECT_EQ(summary["roles"]["q3d"].get<std::string>(), "Q");
  EXPECT_EQ(summary["thresholds"]["ar_method"].get<std::string>(), "ivt");
  int64_t inter = 0, uni = 0;
  for (const auto& e : fs::directory_iterator(dir / "synth")) {
    if (e.path().extension() != ".nc") continue;
    io::NcFile t(e.path()), p(dir / "l" / (e.path().stem().string() + ".labels.nc"));
    auto read = [](const io::NcFile& f) {
      const int var = io::nc_find_var(f.id(), "LABELS");
      size_t n = 1;
      for (size_t d : io::nc_var_shape(f.id(), var)) n *= d;
      std::vector<int> v(n);
      io::nc_check(nc_get_var_int(f.id(), var, v.data()), f.path(), "read", "LABELS");
      return v;
    };
    const auto a = read(t), b = read(p);
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      inter += a[k] == 2 && b[k] == 2;
      uni += a[k] == 2 || b[k] == 2;
    }
  }
  ASSERT_GT(uni, 1000);
  const double iou = double(inter) / double(uni);
  std::cout << "hybrid-level IVT river IoU " << iou << "\n";
  EXPECT_GE(iou, 0.8);  // 0.890 measured (synth_truth_score.py agrees)
}

TEST(LabelCli, BenchLabelReportsJson) {
  const auto r = test::run_climseg("--no-progress -q bench label --grid 96x144 --steps 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j["bench"], "label");
  EXPECT_EQ(j["grid"], "96x144");
  EXPECT_EQ(j["steps"], 2);
  for (const char* k : {"read_s_per_step", "candidates_s_per_step", "mask_s_per_step", "core_s_per_step_io_excluded",
                        "core_s_per_step_io_included", "teca_core_s_per_step", "teca_ratio_io_included"})
    EXPECT_GT(j[k].get<double>(), 0.0) << k;
  EXPECT_GE(j["core_s_per_step_io_included"].get<double>(), j["core_s_per_step_io_excluded"].get<double>());
  EXPECT_NEAR(j["teca_ratio_io_included"].get<double>(),
              j["teca_core_s_per_step"].get<double>() / j["core_s_per_step_io_included"].get<double>(), 1e-9);
  EXPECT_GE(j["threads"].get<int>(), 1);
}
