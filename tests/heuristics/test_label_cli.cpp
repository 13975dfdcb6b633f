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
#include <sstream>

#include "core/atomic_file.hpp"
#include "geo/sphere.hpp"
#include "readers/netcdf_file.hpp"
#include "test_support.hpp"

using namespace climseg;
namespace fs = std::filesystem;

namespace {

std::vector<std::map<std::string, std::string>> read_csv(const fs::path& path) {
  std::istringstream in(read_file(path));
  std::string line;
  std::vector<std::string> head;
  std::vector<std::map<std::string, std::string>> rows;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells;
    std::stringstream ss(l);
    std::string c;
    while (std::getline(ss, c, ',')) cells.push_back(c);
    return cells;
  };
  if (std::getline(in, line)) head = split(line);
  while (std::getline(in, line)) {
    const auto cells = split(line);
    std::map<std::string, std::string> r;
    for (size_t k = 0; k < head.size() && k < cells.size(); ++k) r[head[k]] = cells[k];
    rows.push_back(std::move(r));
  }
  return rows;
}

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
  const auto rows = read_csv(dir / "out" / "tc_tracks.csv");
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
