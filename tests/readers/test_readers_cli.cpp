// `climseg inspect` (semantic view) and `climseg stats` run as a user would: values against numpy
// references, MPI equal to serial, and every bad input of issue 3 giving one line and exit 1 or 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nc_builder.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using climseg::test::NcBuilder;
using climseg::test::real_file;
using climseg::test::run_climseg;
using climseg::test::TempDir;
using nlohmann::json;

namespace {

std::string storm(const char* v) { return real_file(std::string("geocat_") + v + "storm.cdf").string(); }

json read_json(const fs::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

const json& channel(const json& stats, const std::string& name) {
  for (const json& c : stats["channels"])
    if (c["name"] == name) return c;
  throw std::runtime_error("no channel " + name);
}

// A 4x8 global file with TMQ at the given times.
void small_file(const fs::path& p, std::vector<double> times, double lat0 = -67.5) {
  std::vector<double> v(times.size() * 32, 1.0);
  NcBuilder(p)
      .dim("time", 0)
      .dim("lat", 4)
      .dim("lon", 8)
      .var("time", NC_DOUBLE, {"time"}, times)
      .att("time", "units", "hours since 2000-01-01")
      .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(4, lat0, 45))
      .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(8, 0, 45))
      .var("TMQ", NC_FLOAT, {"time", "lat", "lon"}, v)
      .write();
}

}  // namespace

TEST(StatsCli, StormSeriesMatchesNumpy) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  TempDir dir;
  auto r = run_climseg("stats --in " + storm("P") + " " + storm("U500") + " --vars 'p,u500=u[U500]' --out " +
                       (dir / "s.json").string() + " --percentiles 1,50,99");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json s = read_json(dir / "s.json");
  EXPECT_EQ(s["format"], "climseg-stats");
  EXPECT_EQ(s["samples"], 64);
  // numpy over netCDF4's masked arrays (float64): p.compressed().mean(), .std(), .min(), .max(),
  // and np.percentile(..., method='inverted_cdf') (the histogram's definition).
  const json& p = channel(s, "p");
  EXPECT_EQ(p["count"], 61696);
  EXPECT_NEAR(p["mean"].get<double>(), 101594.2082063667, 1e-9 * 101594.2);
  EXPECT_NEAR(p["std"].get<double>(), 1054.4139739420993, 1e-9 * 1054.4);
  EXPECT_EQ(p["min"].get<double>(), 96040.25);
  EXPECT_EQ(p["max"].get<double>(), 104415.3125);
  const double pbin = (104415.3125 - 96040.25) / 65536;
  EXPECT_NEAR(p["percentiles"]["1"].get<double>(), 98596.5, pbin);
  EXPECT_NEAR(p["percentiles"]["50"].get<double>(), 101713.8125, pbin);
  EXPECT_NEAR(p["percentiles"]["99"].get<double>(), 103831.3125, pbin);
  const json& u = channel(s, "u500");
  EXPECT_NEAR(u["mean"].get<double>(), 16.697478474129408, 1e-9 * 16.7);
  EXPECT_NEAR(u["std"].get<double>(), 11.97603184541369, 1e-9 * 12.0);
  EXPECT_NEAR(u["percentiles"]["99"].get<double>(), 46.24705505, (63.747055 + 24.751556) / 65536);
}

TEST(StatsCli, MpirunEqualsSerial) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  TempDir dir;
  const std::string args = " stats --in " + storm("P") + " " + storm("T") + " " + storm("V") +
                           " --vars p,t,v --area-weighted --no-progress --out ";
  auto serial = run_climseg(args + (dir / "serial.json").string());
  ASSERT_EQ(serial.exit_code, 0) << serial.err;
  json a = read_json(dir / "serial.json");
  EXPECT_TRUE(a["area_weighted"].get<bool>());
  // Valid counts (netCDF4 masked arrays, a.count()): p 61696, t 60732, v 59768.
  EXPECT_EQ(channel(a, "p")["count"], 61696);
  EXPECT_EQ(channel(a, "t")["count"], 60732);
  EXPECT_EQ(channel(a, "v")["count"], 59768);
  // 64 samples over 2, 3 and 4 ranks: blocks of 32/32, 22/21/21 and 16 each, merged (Chan) on rank 0.
  for (int ranks : {2, 3, 4}) {
    SCOPED_TRACE("mpiexec -n " + std::to_string(ranks));
    const fs::path out = dir / ("mpi" + std::to_string(ranks) + ".json");
    auto mpi = climseg::test::run_command(climseg::test::mpiexec(ranks) + " " + climseg::test::climseg_exe().string() +
                                          args + out.string());
    ASSERT_EQ(mpi.exit_code, 0) << mpi.err;
    json b = read_json(out);
    EXPECT_EQ(b["provenance"]["ranks"], ranks);
    EXPECT_EQ(b["samples"], a["samples"]);
    for (const char* name : {"p", "t", "v"}) {
      const json &x = channel(a, name), &y = channel(b, name);
      EXPECT_EQ(x["count"], y["count"]) << name;
      EXPECT_EQ(x["min"], y["min"]) << name;
      EXPECT_EQ(x["max"], y["max"]) << name;
      EXPECT_NEAR(x["mean"].get<double>(), y["mean"].get<double>(), 1e-6 * std::abs(x["mean"].get<double>())) << name;
      EXPECT_NEAR(x["std"].get<double>(), y["std"].get<double>(), 1e-6 * x["std"].get<double>()) << name;
    }
  }
}

TEST(InspectCli, SemanticViewOfRealFiles) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  auto r = run_climseg("inspect --json " + real_file("climdeeplearn_IWV_IVT_MERRA_20170228_00.nc").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json s = json::parse(r.out)["semantic"];
  EXPECT_EQ(s["grid"]["shape"], json({361, 576}));
  EXPECT_EQ(s["grid"]["extent"], "global");
  EXPECT_EQ(s["grid"]["periodic"], true);
  EXPECT_EQ(s["grid"]["lon"]["first"], 0.0);
  EXPECT_EQ(s["grid"]["lon"]["step"], 0.625);
  EXPECT_EQ(s["grid"]["file_orientation"]["lon_shift"], 288);
  EXPECT_EQ(s["grid"]["file_orientation"]["lon_range"], json({-180.0, 179.375}));
  EXPECT_EQ(s["time"]["first"], "2017-02-28T00:00:00");
  EXPECT_EQ(s["time"]["calendar"], "standard");
  EXPECT_EQ(s["channels"].size(), 2u);

  r = run_climseg("inspect --json " + real_file("geocat_NCEP_06_climo.nc").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  s = json::parse(r.out)["semantic"];
  bool found_u = false;
  for (const json& c : s["channels"])
    if (c["var"] == "U") {
      found_u = true;
      EXPECT_EQ(c["spec"], "U@LEVEL");
      EXPECT_EQ(c["example"], "U@850");
      EXPECT_EQ(c["levels"], "lev");
    }
  EXPECT_TRUE(found_u);
  EXPECT_EQ(s["levels"][0]["count"], 17);
  EXPECT_EQ(s["levels"][0]["pressure"], true);
  EXPECT_EQ(s["not_channels"][0]["name"], "gw");

  r = run_climseg("inspect --json " + storm("P"));
  s = json::parse(r.out)["semantic"];
  EXPECT_EQ(s["grid"]["extent"], "regional");
  EXPECT_EQ(s["time"]["count"], 64);
  EXPECT_EQ(s["time"]["first"], "1996-01-05T00:00:00");
  EXPECT_EQ(s["time"]["last"], "1996-01-20T18:00:00");
  EXPECT_EQ(s["time"]["step"], "6 hours");

  // The unstructured grid is described as columns (docs/grids.md).
  r = run_climseg("inspect " + real_file("geocat_camse_unstructured_grid.nc").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("grid: unstructured, cubed sphere ne30np4: 48602 columns over ncol"), std::string::npos)
      << r.out;
  r = run_climseg("inspect --raw --json " + storm("P"));
  EXPECT_FALSE(json::parse(r.out).contains("semantic"));
}

TEST(ReadersCli, EveryBadInputGivesOneLineAndNoOutput) {
  TempDir dir;
  std::ofstream(dir / "notes.nc") << "this is not netcdf\n";
  small_file(dir / "a.nc", {0, 6});
  small_file(dir / "b_overlap.nc", {6, 12});
  small_file(dir / "c_back.nc", {30, 24});
  small_file(dir / "d_grid.nc", {48}, -60);
  struct Case {
    std::string args;
    int code;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"--in " + (dir / "missing.nc").string() + " --vars TMQ", 1, "missing.nc: no such file"},
      {"--in " + (dir / "notes.nc").string() + " --vars TMQ", 1, "notes.nc: not a NetCDF or HDF5 file"},
      {"--in " + (dir / "a.nc").string() + " --vars PSL", 1, "a.nc: unknown variable 'PSL' (available: TMQ)"},
      {"--in " + (dir / "a.nc").string() + " " + (dir / "b_overlap.nc").string() + " --vars TMQ", 1,
       "b_overlap.nc: time steps overlap with"},
      {"--in " + (dir / "c_back.nc").string() + " --vars TMQ", 1, "c_back.nc: time steps go backwards"},
      {"--in " + (dir / "a.nc").string() + " " + (dir / "d_grid.nc").string() + " --vars TMQ", 1,
       "d_grid.nc: grid differs from the first file of the archive"},
      {"--in " + (dir / "*.nope").string() + " --vars TMQ", 1, "no files match"},
      {"--in " + (dir / "a.nc").string() + " --vars 'TMQ,,PSL'", 2, "has an empty item"},
      {"--in " + (dir / "a.nc").string() + " --vars U@", 2, "channel 'U@': empty level"},
      {"--in " + (dir / "a.nc").string() + " --vars TMQ --fill sometimes", 2, "--fill"},
      {"--in " + (dir / "a.nc").string() + " --vars TMQ --percentiles 150", 2, "percentile '150'"},
      {"--in " + (dir / "a.nc").string() + " --vars TMQ --out-dir-missing", 2, ""},
  };
  if (!climseg::test::shared_data().empty()) {
    std::ifstream in(real_file("geocat_hgt.nc"), std::ios::binary);
    std::string bytes(20000, '\0');
    in.read(bytes.data(), 20000);
    std::ofstream(dir / "cut.nc", std::ios::binary) << bytes;
    const std::string ncep = real_file("geocat_NCEP_06_climo.nc").string();
    cases.push_back(
        {"--in " + (dir / "cut.nc").string() + " --vars HGT", 1, "cut.nc: the file is truncated or damaged"});
    cases.push_back({"--in " + ncep + " --vars U@800", 1, "variable 'U' has no level 800 (levels: 1000, 925, 850"});
    cases.push_back({"--in " + real_file("geocat_camse_unstructured_grid.nc").string() + " --vars T999", 1,
                     "no field 'T999' over the columns (fields: T850)"});
    cases.push_back({"--in " + storm("T") + " --vars t --fill error", 1,
                     "geocat_Tstorm.cdf: variable t (channel t) at 1996-01-09T06:00:00 is entirely fill values"});
  }
  const fs::path out = dir / "out.json";
  for (const Case& c : cases) {
    auto r =
        run_climseg("stats " + c.args + (c.args.find("--out") == std::string::npos ? " --out " + out.string() : ""));
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.err;
    // One error line, the last one (progress and info lines may precede it on stderr).
    auto first = r.err.find("climseg: error: ");
    ASSERT_NE(first, std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.err.find("climseg: error: ", first + 1), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n', first), r.err.size() - 1) << r.err;
    EXPECT_TRUE(first == 0 || r.err[first - 1] == '\n') << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
  // An output folder that does not exist.
  auto r =
      run_climseg("stats --in " + (dir / "a.nc").string() + " --vars TMQ --out " + (dir / "no/such/s.json").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  // All-fill steps with the default policy: a warning per step, and the statistics of the rest.
  if (!climseg::test::shared_data().empty()) {
    r = run_climseg("stats --no-progress --in " + storm("T") + " --vars t --out " + out.string());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("warning: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is entirely fill values: masked"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::exists(out));
  }
}

TEST(BenchIoCli, PrintsOneJsonLinePerCaseWithTheRatio) {
  // A tiny grid: this checks the command works and reports what docs/benchmarks.md says, not speed.
  auto r = run_climseg("bench io --height 16 --width 24 --repeat 1 --no-python");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::stringstream lines(r.out);
  std::string line;
  std::vector<std::string> cases;
  while (std::getline(lines, line)) {
    json j = json::parse(line);
    EXPECT_EQ(j["bench"], "io");
    EXPECT_EQ(j["shape"], json({16, 16, 24}));
    for (const char* key : {"bare_netcdf_ms", "climseg_ms", "climseg_library_ms", "climseg_vs_bare"})
      EXPECT_GT(j[key].get<double>(), 0.0) << key;
    cases.push_back(j["case"]);
  }
  EXPECT_EQ(cases, (std::vector<std::string>{"uncompressed", "deflate"}));
}

TEST(BenchIoCli, WithPythonTheXarrayAndNetcdf4PeersAreTimedAndTheirVersionsReported) {
  if (climseg::test::run_command("/usr/bin/python3 -c 'import xarray, netCDF4' 2>/dev/null").exit_code != 0)
    GTEST_SKIP() << "python3-xarray/netCDF4 not installed: the python peers of bench io are not exercised";
  auto r = run_climseg("bench io --height 16 --width 24 --repeat 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The version a user would quote: Debian's python3-xarray says 999 in __version__ and in its
  // metadata, so the package version (less the Debian revision) is the reference when dpkg knows it.
  std::string deb = climseg::test::run_command("dpkg-query -W -f='${Version}' python3-xarray 2>/dev/null").out;
  if (auto colon = deb.find(':'); colon != std::string::npos) deb = deb.substr(colon + 1);
  if (auto dash = deb.rfind('-'); dash != std::string::npos) deb = deb.substr(0, dash);
  std::stringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    json j = json::parse(line);
    ++n;
    for (const char* key : {"xarray_ms", "netcdf4_python_ms", "climseg_speedup_vs_xarray"}) {
      ASSERT_TRUE(j.contains(key) && j[key].is_number()) << key << ": " << line;
      EXPECT_GT(j[key].get<double>(), 0.0) << key;
    }
    // Each Python reader ran with glibc's allocator as it is and keeping freed memory
    // (../shared/PERFORMANCE.md), and its figure is the faster of the two.
    for (const std::string key : {"xarray_ms", "netcdf4_python_ms"}) {
      ASSERT_TRUE(j.contains(key + "_default_allocator") && j.contains(key + "_keep_memory")) << line;
      const double a = j[key + "_default_allocator"], b = j[key + "_keep_memory"];
      EXPECT_EQ(j[key].get<double>(), std::min(a, b)) << key;
      EXPECT_EQ(j[key + "_allocator"], b < a ? "keep_memory" : "default") << key;
    }
    const std::string version = j["xarray_version"];
    EXPECT_FALSE(version.empty());
    EXPECT_NE(version.rfind("999", 0), 0u) << version;
    if (!deb.empty()) {
      EXPECT_EQ(version, deb);
    }
    EXPECT_FALSE(j["netcdf4_python_version"].get<std::string>().empty());
  }
  EXPECT_EQ(n, 2);
}
