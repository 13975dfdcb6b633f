// `climseg label` scored against the truth planted by `climseg synth` (192x288, 48 steps): cyclone
// tracks match planted centres within 2 degrees at >= 95% of planted points with >= 90% of detected
// points matching; river masks from IVT integrated on levels reach IoU >= 0.6 (TMQ alone: ~0.6).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netcdf.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/atomic_file.hpp"
#include "geo/grid.hpp"
#include "readers/netcdf_file.hpp"
#include "test_support.hpp"

using namespace climseg;
namespace fs = std::filesystem;

namespace {

struct Point {
  double lat, lon;
};

double degrees_apart(const Point& a, const Point& b) {
  return geo::great_circle_m(a.lat, a.lon, b.lat, b.lon) / (geo::kEarthRadius * geo::kDegToRad);
}

std::vector<int> read_labels(const fs::path& path) {
  io::NcFile f(path);
  const int var = io::nc_find_var(f.id(), "LABELS");
  EXPECT_GE(var, 0) << path;
  size_t n = 1;
  for (size_t d : io::nc_var_shape(f.id(), var)) n *= d;
  std::vector<int> v(n);
  io::nc_check(nc_get_var_int(f.id(), var, v.data()), path.string(), "read", "LABELS");
  return v;
}

struct Scores {
  int64_t planted = 0, planted_matched = 0, detected = 0, detected_matched = 0;
  double river_iou = 0, cyclone_iou = 0, river_precision = 0, river_recall = 0;
};

Scores score(const fs::path& synth_dir, const fs::path& label_dir) {
  Scores s;
  std::map<int64_t, std::vector<Point>> truth, found;
  fs::path cyclones_csv;
  for (const auto& e : fs::directory_iterator(synth_dir))
    if (e.path().filename().string().ends_with("_cyclones.csv")) cyclones_csv = e.path();
  for (const auto& r : test::read_csv(cyclones_csv))
    truth[std::stoll(r.at("step"))].push_back({std::stod(r.at("lat")), std::stod(r.at("lon"))});
  if (fs::exists(label_dir / "tc_tracks.csv"))  // absent when only rivers were detected
    for (const auto& r : test::read_csv(label_dir / "tc_tracks.csv"))
      found[std::stoll(r.at("step"))].push_back({std::stod(r.at("lat")), std::stod(r.at("lon"))});
  auto near = [](const Point& p, const std::vector<Point>& others) {
    for (const auto& q : others)
      if (degrees_apart(p, q) <= 2.0) return true;
    return false;
  };
  for (const auto& [step, pts] : truth)
    for (const auto& p : pts) {
      ++s.planted;
      s.planted_matched += found.count(step) && near(p, found.at(step));
    }
  for (const auto& [step, pts] : found)
    for (const auto& p : pts) {
      ++s.detected;
      s.detected_matched += truth.count(step) && near(p, truth.at(step));
    }
  int64_t inter[3] = {0, 0, 0}, uni[3] = {0, 0, 0}, truth2 = 0, found2 = 0;
  for (const auto& e : fs::directory_iterator(synth_dir)) {
    if (e.path().extension() != ".nc") continue;
    const auto t = read_labels(e.path());
    const auto p = read_labels(label_dir / (e.path().stem().string() + ".labels.nc"));
    EXPECT_EQ(t.size(), p.size());
    for (size_t k = 0; k < t.size() && k < p.size(); ++k) {
      truth2 += t[k] == 2;
      found2 += p[k] == 2;
    }
    for (size_t k = 0; k < t.size() && k < p.size(); ++k)
      for (int c : {1, 2}) {
        inter[c] += t[k] == c && p[k] == c;
        uni[c] += t[k] == c || p[k] == c;
      }
  }
  s.cyclone_iou = double(inter[1]) / double(std::max<int64_t>(1, uni[1]));
  s.river_iou = double(inter[2]) / double(std::max<int64_t>(1, uni[2]));
  s.river_precision = double(inter[2]) / double(std::max<int64_t>(1, found2));
  s.river_recall = double(inter[2]) / double(std::max<int64_t>(1, truth2));
  return s;
}

void report(const char* what, const Scores& s) {
  std::cout << what << ": planted cyclone points " << s.planted << ", matched " << s.planted_matched << " ("
            << 100.0 * double(s.planted_matched) / double(s.planted) << "%); detected " << s.detected << ", matching "
            << s.detected_matched << " (" << 100.0 * double(s.detected_matched) / double(s.detected) << "%); river IoU "
            << s.river_iou << ", cyclone-mask IoU " << s.cyclone_iou << "\n";
}

}  // namespace

TEST(SynthTruth, CyclonesAndRiversOn48Steps) {
  test::TempDir dir;
  // 48 six-hourly steps (12 days) on CAM5's 1° grid with Q, U, V on 10 pressure levels, seed 1:
  // cyclones and IVT rivers (IVT = (1/g) ∫ q v dp by the label command itself) in one run, rivers
  // from TMQ alone (Kurth et al.) in a second. Other seeds: tests/heuristics/synth_truth_seeds.sh.
  auto r =
      test::run_climseg(fmt::format("--no-progress -q synth --out {} --grid 192x288 --steps 48 --steps-per-file 8 "
                                    "--hours 6 --seed 1 --levels pressure",
                                    (dir / "synth").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(
      fmt::format("--no-progress -q label --in {} --out {}", (dir / "synth").string(), (dir / "ivt").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = read_file(dir / "ivt" / "label_summary.json");
  EXPECT_NE(summary.find("\"q3d\": \"Q\""), std::string::npos) << summary;
  const Scores s = score(dir / "synth", dir / "ivt");
  report("IVT rivers", s);
  ASSERT_GT(s.planted, 150);
  EXPECT_GE(double(s.planted_matched), 0.95 * double(s.planted));
  EXPECT_GE(double(s.detected_matched), 0.90 * double(s.detected));
  EXPECT_GE(s.river_iou, 0.6);  // 0.875 measured

  r = test::run_climseg(fmt::format("--no-progress -q label --in {} --out {} --detect ar --ar-method tmq",
                                    (dir / "synth").string(), (dir / "tmq").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Scores t = score(dir / "synth", dir / "tmq");
  std::cout << "TMQ rivers: river IoU " << t.river_iou << ", precision " << t.river_precision << ", recall "
            << t.river_recall << "\n";
  // The planted truth outlines a river where its IVT is >= 250 kg m-1 s-1; TMQ (damped) >= 24 kg m-2
  // finds the moist core of those cells and almost nothing else but misses their drier edges, so
  // TMQ alone stays below 0.6 here (0.58 at seed 1; docs/detectors.md). Precision is its strength.
  EXPECT_GE(t.river_precision, 0.9);
  EXPECT_GE(t.river_iou, 0.5);
}

TEST(SynthTruth, LabelErrorsAreOneLine) {
  auto r = test::run_climseg("label --in /no/such/dir --out /tmp/x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = test::run_climseg("label --in /no/such/dir --out /tmp/x --detect tc,clouds");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown detector 'clouds'"), std::string::npos) << r.err;
  r = test::run_climseg("label --in /no/such/dir --out /tmp/x --var foo=BAR");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown role 'foo'"), std::string::npos) << r.err;
}

TEST(SynthTruth, SameLabelsUnderThreeRanks) {
  test::TempDir dir;
  // 5 files (4 + 4 + 4 + 4 + 2 steps) over 3 ranks: uneven blocks of steps in pass 1 and of files in pass 2.
  auto r =
      test::run_climseg(fmt::format("--no-progress -q synth --out {} --grid 192x288 --steps 18 --steps-per-file 4 "
                                    "--hours 6 --seed 3",
                                    (dir / "synth").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(
      fmt::format("--no-progress -q label --in {} --out {}", (dir / "synth").string(), (dir / "one").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_command(fmt::format("{} {} --no-progress -q label --in {} --out {}", test::mpiexec(3),
                                    test::climseg_exe().string(), (dir / "synth").string(), (dir / "three").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(test::read_csv(dir / "one" / "tc_tracks.csv").size(), 10u);
  for (const char* f : {"tc_tracks.csv", "rivers.csv"})
    EXPECT_EQ(read_file(dir / "one" / f), read_file(dir / "three" / f)) << f;
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir / "synth")) {
    if (e.path().extension() != ".nc") continue;
    const std::string name = e.path().stem().string() + ".labels.nc";
    EXPECT_EQ(read_labels(dir / "one" / name), read_labels(dir / "three" / name)) << name;
    ++files;
  }
  EXPECT_EQ(files, 5);
}

TEST(SynthTruth, ExtremeWavesFromSiblingFiles) {
  test::TempDir dir;
  // WAVEWATCH III-like hs files beside the CAM files (one time axis, variables in sibling files);
  // the planted truth labels hs >= 6 m as class 3 in the wave files.
  auto r = test::run_climseg(fmt::format(
      "--no-progress -q synth --out {} --grid 96x144 --steps 8 --steps-per-file 4 --hours 6 --seed 3 --waves",
      (dir / "synth").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(fmt::format("--no-progress -q label --in {} {} --out {} --detect waves --waves-threshold 6",
                                    (dir / "synth").string(), (dir / "synth" / "waves").string(),
                                    (dir / "labels").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int64_t inter = 0, uni = 0;
  for (const auto& e : fs::directory_iterator(dir / "synth" / "waves")) {
    std::string stem = e.path().stem().string();
    stem.replace(stem.find(".ww3."), 5, ".cam.h2.");
    const auto t = read_labels(e.path());
    const auto p = read_labels(dir / "labels" / (stem + ".labels.nc"));
    ASSERT_EQ(t.size(), p.size());
    for (size_t k = 0; k < t.size(); ++k) {
      inter += t[k] == 3 && p[k] == 3;
      uni += t[k] == 3 || p[k] == 3;
    }
  }
  ASSERT_GT(uni, 50);
  EXPECT_GE(double(inter) / double(uni), 0.9);

  // A per-cell threshold: the first step's own hs is never exceeded by itself (strict >).
  fs::path first;
  for (const auto& e : fs::directory_iterator(dir / "synth" / "waves"))
    if (first.empty() || e.path() < first) first = e.path();
  r = test::run_climseg(fmt::format(
      "--no-progress -q label --in {} {} --out {} --detect waves --waves-threshold-field {}:hs",
      (dir / "synth").string(), (dir / "synth" / "waves").string(), (dir / "field").string(), first.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string stem = first.stem().string();
  stem.replace(stem.find(".ww3."), 5, ".cam.h2.");
  const auto p = read_labels(dir / "field" / (stem + ".labels.nc"));
  const size_t plane = 96 * 144;
  EXPECT_EQ(std::count(p.begin(), p.begin() + long(plane), 3), 0);
}
