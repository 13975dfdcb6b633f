// `climseg events` and `climseg plot` end to end on a synth archive, whose LABELS are the planted
// truth: every planted cyclone is one event that starts where and when it was planted; the tables,
// summary, id map and pictures are consistent with each other; the same under 2 MPI ranks.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netcdf.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/atomic_file.hpp"
#include "geo/grid.hpp"
#include "readers/netcdf_file.hpp"
#include "test_support.hpp"

using namespace climseg;
namespace fs = std::filesystem;

namespace {

std::vector<int> read_ints(const fs::path& path, const char* name) {
  io::NcFile f(path);
  const int var = io::nc_find_var(f.id(), name);
  EXPECT_GE(var, 0) << path << " " << name;
  size_t n = 1;
  for (size_t d : io::nc_var_shape(f.id(), var)) n *= d;
  std::vector<int> v(n);
  io::nc_check(nc_get_var_int(f.id(), var, v.data()), path.string(), "read", name);
  return v;
}

// One synth archive for the tests of this file (16 six-hourly steps at 192x288; ctest runs each test
// in its own process, so each makes its own).
class EventsCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto r = test::run_climseg(
        fmt::format("--no-progress -q synth --out {} --grid 192x288 --steps 16 --steps-per-file 8 --hours 6 --seed 11",
                    (dir_->path() / "synth").string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path synth() { return dir_->path() / "synth"; }
  static inline test::TempDir* dir_ = nullptr;
};

}  // namespace

TEST_F(EventsCli, PlantedCyclonesAreEventsFromTheirGenesis) {
  const fs::path out = dir_->path() / "events";
  auto r = test::run_climseg(
      fmt::format("--no-progress -q events --in {} --out {} --field PSL --peak min", synth().string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The truth: first step and position of every planted cyclone id.
  std::map<std::string, std::tuple<int64_t, double, double, double>> planted;  // id -> step, lat, lon, min psl
  for (const auto& row : test::read_csv(synth() / "synth_cyclones.csv")) {
    const int64_t step = std::stoll(row.at("step"));
    const double psl = std::stod(row.at("psl_min_pa"));
    auto [it, fresh] = planted.try_emplace(row.at("id"), step, std::stod(row.at("lat")), std::stod(row.at("lon")), psl);
    std::get<3>(it->second) = std::min(std::get<3>(it->second), psl);
  }
  const auto events = test::read_csv(out / "events.csv");
  std::vector<std::map<std::string, std::string>> cyclones;
  for (const auto& e : events)
    if (e.at("class") == "1") cyclones.push_back(e);
  ASSERT_EQ(cyclones.size(), planted.size());
  std::set<std::string> seen;
  for (const auto& e : cyclones) {
    const int64_t g = std::stoll(e.at("genesis_step"));
    const double lat = std::stod(e.at("genesis_lat")), lon = std::stod(e.at("genesis_lon"));
    bool found = false;
    for (const auto& [id, p] : planted)
      if (std::get<0>(p) == g && geo::great_circle_m(lat, lon, std::get<1>(p), std::get<2>(p)) < 150e3 &&
          !seen.count(id)) {
        seen.insert(id);
        found = true;
        // The peak is the lowest PSL inside the labelled region: the planted minimum (grid value).
        EXPECT_NEAR(std::stod(e.at("peak_value")), std::get<3>(p), 1.0) << "cyclone " << id;
        break;
      }
    EXPECT_TRUE(found) << "event " << e.at("event_id") << " at step " << g << " (" << lat << ", " << lon << ")";
  }
  // The summary counts the same events; the id map holds exactly the kept ids.
  const auto js = nlohmann::json::parse(read_file(out / "events_summary.json"));
  EXPECT_EQ(js["classes"]["tropical_cyclone"]["events"].get<size_t>(), planted.size());
  const auto ids = read_ints(out / "event_ids.nc", "event_id");
  std::set<int> in_map(ids.begin(), ids.end());
  in_map.erase(0);
  std::set<int> in_table;
  for (const auto& e : events) in_table.insert(std::stoi(e.at("event_id")));
  EXPECT_EQ(in_map, in_table);
  const auto truth = read_ints(synth() / "synth.cam.h2.2000-01-01-00000.nc", "LABELS");
  for (size_t k = 0; k < truth.size(); ++k) ASSERT_EQ(truth[k] > 0, ids[k] > 0) << "cell " << k;
  for (const char* png :
       {"lifetime_tropical_cyclone.png", "speed_atmospheric_river.png", "genesis_tropical_cyclone.png"})
    EXPECT_TRUE(fs::exists(out / png)) << png;
}

TEST_F(EventsCli, FiltersDropShortEvents) {
  const fs::path out = dir_->path() / "events_long";
  auto r =
      test::run_climseg(fmt::format("--no-progress -q events --in {} --out {} --classes 2 --min-lifetime 1 --no-ids",
                                    synth().string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& e : test::read_csv(out / "events.csv")) {
    EXPECT_EQ(e.at("class"), "2");
    EXPECT_GE(std::stod(e.at("lifetime_days")), 1.0);
  }
  EXPECT_FALSE(fs::exists(out / "event_ids.nc"));
}

TEST_F(EventsCli, SameEventsUnderTwoRanks) {
  const fs::path one = dir_->path() / "ev1", two = dir_->path() / "ev2";
  auto r = test::run_climseg(
      fmt::format("--no-progress -q events --in {} --out {} --chunk 5", synth().string(), one.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_command(fmt::format("{} {} --no-progress -q events --in {} --out {} --chunk 5", test::mpiexec(2),
                                    test::climseg_exe().string(), synth().string(), two.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(one / "events.csv"), read_file(two / "events.csv"));
  EXPECT_EQ(read_file(one / "event_points.csv"), read_file(two / "event_points.csv"));
  EXPECT_EQ(read_ints(one / "event_ids.nc", "event_id"), read_ints(two / "event_ids.nc", "event_id"));
}

TEST_F(EventsCli, PlotDrawsAMapWithOutlines) {
  const fs::path png = dir_->path() / "tmq.png";
  auto r = test::run_climseg(
      fmt::format("--no-progress -q plot --in {} --var TMQ --steps 3 --labels auto --out {} --width 576",
                  synth().string(), png.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_file(&img, png.c_str()));
  img.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> rgb(PNG_IMAGE_SIZE(img));
  ASSERT_TRUE(png_image_finish_read(&img, nullptr, rgb.data(), 0, nullptr));
  EXPECT_EQ(img.width, 56u + 576 + 24);  // margins + map
  // Cyclone outlines are drawn in red somewhere on the map.
  int red = 0;
  for (size_t k = 0; k < rgb.size(); k += 3) red += rgb[k] == 232 && rgb[k + 1] == 17 && rgb[k + 2] == 45;
  EXPECT_GT(red, 20);
  // Bad requests are one-line usage errors.
  r = test::run_climseg(fmt::format("plot --in {} --var TMQ --steps 99 --out {}", synth().string(), png.string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = test::run_climseg(
      fmt::format("events --in {} --out {} --min-steps 0", synth().string(), (dir_->path() / "x").string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

// Issue 16 item 8: --out NAME.png with several steps names the maps after it (NAME_0001.png, ...),
// not a directory called NAME.png; --vmin not below --vmax is a usage error (it drew a blank map).
TEST_F(EventsCli, PlotNamesSeveralMapsAfterAPngName) {
  const fs::path png = dir_->path() / "p1.png";
  auto r = test::run_climseg(fmt::format("--no-progress -q plot --in {} --var TMQ --steps 0:3 --out {} --no-coastlines",
                                         synth().string(), png.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(png));
  for (const char* name : {"p1_0001.png", "p1_0002.png", "p1_0003.png"})
    EXPECT_TRUE(fs::is_regular_file(dir_->path() / name)) << name;
  EXPECT_FALSE(fs::exists(dir_->path() / "p1_0004.png"));
  r = test::run_climseg(fmt::format("plot --in {} --var TMQ --out {} --vmin 10 --vmax 5", synth().string(),
                                    (dir_->path() / "v.png").string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("--vmin 10 --vmax 5"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_->path() / "v.png"));
}

// Issue 16: events on predict's outputs finds their class_mask without --labels-var (it said
// "unknown variable 'LABELS' (available: class_mask)"); a file with no class map is refused naming
// the option.
TEST_F(EventsCli, FindsPredictionsClassMaskAndNamesTheOptionWithout) {
  const fs::path dir = dir_->path() / "class_mask";
  fs::create_directories(dir);
  fs::path first;
  for (const auto& e : fs::directory_iterator(synth()))
    if (e.path().extension() == ".nc" && (first.empty() || e.path() < first)) first = e.path();
  const fs::path copy = dir / first.filename();
  fs::copy_file(first, copy);
  {
    int nc = -1, var = -1;
    ASSERT_EQ(nc_open(copy.c_str(), NC_WRITE, &nc), NC_NOERR);
    ASSERT_EQ(nc_redef(nc), NC_NOERR);
    ASSERT_EQ(nc_inq_varid(nc, "LABELS", &var), NC_NOERR);
    ASSERT_EQ(nc_rename_var(nc, var, "class_mask"), NC_NOERR);
    ASSERT_EQ(nc_close(nc), NC_NOERR);
  }
  const std::string events = "--no-progress -q events --no-plots --no-ids --min-steps 1 --in ";
  auto r = test::run_climseg(events + first.string() + " --out " + (dir / "from_labels").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(events + copy.string() + " --out " + (dir / "from_class_mask").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string table = climseg::read_file(dir / "from_labels" / "events.csv");
  EXPECT_GT(std::count(table.begin(), table.end(), '\n'), 1) << table;
  EXPECT_EQ(climseg::read_file(dir / "from_class_mask" / "events.csv"), table);
  // Neither LABELS nor class_mask: the option is named.
  {
    int nc = -1, var = -1;
    ASSERT_EQ(nc_open(copy.c_str(), NC_WRITE, &nc), NC_NOERR);
    ASSERT_EQ(nc_redef(nc), NC_NOERR);
    ASSERT_EQ(nc_inq_varid(nc, "class_mask", &var), NC_NOERR);
    ASSERT_EQ(nc_rename_var(nc, var, "classes"), NC_NOERR);
    ASSERT_EQ(nc_close(nc), NC_NOERR);
  }
  r = test::run_climseg(events + copy.string() + " --out " + (dir / "none").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(copy.string() + ": no class map (LABELS from climseg label, class_mask from climseg predict); "
                                       "name it with --labels-var classes"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir / "none" / "events.csv"));
}

namespace {

std::vector<uint8_t> read_png_rgb(const fs::path& path, unsigned* width = nullptr) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  EXPECT_TRUE(png_image_begin_read_from_file(&img, path.c_str())) << path;
  img.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> rgb(PNG_IMAGE_SIZE(img));
  EXPECT_TRUE(png_image_finish_read(&img, nullptr, rgb.data(), 0, nullptr));
  if (width != nullptr) *width = img.width;
  return rgb;
}

}  // namespace

// An archive across New Year (1999-12-31 to 2000-01-03): events_summary.nc counts events per class
// and genesis year as events.csv does, and plot draws the event tracks of event_points.csv.
TEST(EventsCliYears, SummaryNetcdfCountsPerClassAndYearAndPlotDrawsEventTracks) {
  test::TempDir dir;
  auto r = test::run_climseg(fmt::format(
      "--no-progress -q synth --out {} --grid 96x144 --steps 16 --steps-per-file 8 --hours 6 --start 1999-12-31 "
      "--cyclones 6 --rivers 4 --seed 3",
      (dir / "synth").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path out = dir / "events";
  r = test::run_climseg(
      fmt::format("--no-progress -q events --in {} --out {} --no-ids", (dir / "synth").string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Independent counts from the table: class -> year -> events.
  std::map<int, std::map<int, int>> by_year;
  std::map<int, int> total;
  const auto events = test::read_csv(out / "events.csv");
  for (const auto& e : events) {
    const int c = std::stoi(e.at("class")), y = std::stoi(e.at("genesis_time").substr(0, 4));
    ++by_year[c][y];
    ++total[c];
  }
  std::set<int> years_csv;
  for (const auto& [c, m] : by_year)
    for (const auto& [y, n] : m) years_csv.insert(y);
  // Both years have events (the archive starts on 1999-12-31: its first-step objects begin then).
  ASSERT_EQ(years_csv, (std::set<int>{1999, 2000}));
  const fs::path nc = out / "events_summary.nc";
  const auto cls = read_ints(nc, "class");
  const auto years = read_ints(nc, "year");
  const auto per_year = read_ints(nc, "events_per_year");
  const auto counts = read_ints(nc, "events");
  const auto unknown = read_ints(nc, "events_unknown_year");
  EXPECT_EQ(std::set<int>(years.begin(), years.end()), years_csv);
  ASSERT_EQ(cls.size(), total.size());
  ASSERT_EQ(per_year.size(), cls.size() * years.size());
  const auto js = nlohmann::json::parse(read_file(out / "events_summary.json"));
  for (size_t i = 0; i < cls.size(); ++i) {
    EXPECT_EQ(counts[i], total[cls[i]]) << "class " << cls[i];
    EXPECT_EQ(unknown[i], 0);
    const std::string name = cls[i] == 1 ? "tropical_cyclone" : cls[i] == 2 ? "atmospheric_river" : "extreme_waves";
    EXPECT_EQ(js["classes"][name]["events"].get<int>(), counts[i]);
    for (size_t j = 0; j < years.size(); ++j) {
      EXPECT_EQ(per_year[i * years.size() + j], by_year[cls[i]][years[j]]) << cls[i] << " " << years[j];
      const auto key = std::to_string(years[j]);
      EXPECT_EQ(js["classes"][name]["per_year"].value(key, 0), per_year[i * years.size() + j]);
    }
  }

  // Event tracks: a step where a cyclone event has lived at least two steps.
  int64_t step = -1;
  std::string id;
  for (const auto& e : events)
    if (e.at("class") == "1" && std::stoi(e.at("steps")) >= 3) {
      step = std::stoll(e.at("genesis_step")) + 2;
      id = e.at("event_id");
      break;
    }
  ASSERT_GE(step, 0) << "no cyclone event of 3 steps";
  const fs::path with = dir / "with.png", without = dir / "without.png";
  for (const auto& [png, extra] :
       {std::pair{with, " --tracks " + (out / "event_points.csv").string()}, std::pair{without, std::string()}}) {
    r = test::run_climseg(fmt::format("--no-progress -q plot --in {} --var TMQ --steps {} --out {} --no-coastlines{}",
                                      (dir / "synth").string(), step, png.string(), extra));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto a = read_png_rgb(with), b = read_png_rgb(without);
  ASSERT_EQ(a.size(), b.size());
  // Cyclone event tracks are drawn in the cyclone red; their id labels in white with a black halo.
  int red = 0, white_new = 0;
  for (size_t k = 0; k < a.size(); k += 3) {
    red += a[k] == 232 && a[k + 1] == 17 && a[k + 2] == 45;
    EXPECT_FALSE(b[k] == 232 && b[k + 1] == 17 && b[k + 2] == 45);
    white_new +=
        a[k] == 255 && a[k + 1] == 255 && a[k + 2] == 255 && !(b[k] == 255 && b[k + 1] == 255 && b[k + 2] == 255);
  }
  EXPECT_GT(red, 20) << "event " << id << " at step " << step;
  EXPECT_GT(white_new, 10);
}

// Issue 16: a labels variable that is not an integer class map is refused (it used to turn TMQ
// into thousands of "events"), naming the variable and suggesting the class map the files hold.
TEST(EventsCliLabels, RefusesAFieldThatIsNotAClassMap) {
  test::TempDir dir;
  auto r = test::run_climseg(fmt::format("--no-progress -q synth --out {} --grid 24x36 --steps 4 --steps-per-file 4",
                                         (dir.path() / "synth").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(fmt::format("--no-progress events --in {} --labels-var TMQ --out {}",
                                    (dir.path() / "synth").string(), (dir.path() / "ev").string()));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--labels-var TMQ: variable TMQ (float, units kg/m2) is not an integer class map: values such "
                       "as "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("are not class ids (integers 0..255); try --labels-var LABELS"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("climseg: error:"), r.err.rfind("climseg: error:")) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "ev" / "events.csv"));
  // The class map itself is accepted.
  r = test::run_climseg(fmt::format("--no-progress events --in {} --labels-var LABELS --out {}",
                                    (dir.path() / "synth").string(), (dir.path() / "ev2").string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}
