// `climseg inspect` on every real file (dimensions checked against ncdump -h), and on bad inputs.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace fs = std::filesystem;
using climseg::test::run_climseg;
using climseg::test::TempDir;
using nlohmann::json;

namespace {
// Dimensions of the real files as `ncdump -h` prints them (read once by hand).
const std::map<std::string, std::map<std::string, size_t>> kRealDims = {
    {"climdeeplearn_IWV_IVT_MERRA_20170228_00.nc", {{"time", 1}, {"lat", 361}, {"lon", 576}}},
    {"geocat_NCEP_06_climo.nc",
     {{"time", 1}, {"lat", 64}, {"lon", 128}, {"lev1", 12}, {"lev2", 8}, {"lev", 17}, {"date", 1}}},
    {"geocat_Pstorm.cdf", {{"timestep", 64}, {"lat", 33}, {"lon", 36}, {"timelen", 20}}},
    {"geocat_Tstorm.cdf", {{"timestep", 64}, {"lat", 33}, {"lon", 36}, {"timelen", 20}}},
    {"geocat_U500storm.cdf", {{"timestep", 64}, {"lat", 33}, {"lon", 36}, {"timelen", 20}}},
    {"geocat_Ustorm.cdf", {{"timestep", 64}, {"lat", 33}, {"lon", 36}, {"timelen", 20}}},
    {"geocat_V500storm.cdf", {{"timestep", 64}, {"lat", 33}, {"lon", 36}, {"timelen", 20}}},
    {"geocat_Vstorm.cdf", {{"timestep", 64}, {"lat", 33}, {"lon", 36}, {"timelen", 20}}},
    {"geocat_camse_unstructured_grid.nc", {{"ncol", 48602}}},
    {"geocat_era5_1995-07-14T12.nc", {{"longitude", 237}, {"latitude", 105}}},
    {"geocat_hgt.nc", {{"time", 21}, {"lat", 73}, {"lon", 144}}},
    {"geocat_landsea.nc", {{"lat", 180}, {"lon", 360}}},
    {"geocat_nc4uvt.nc", {{"time", 1}, {"lev", 14}, {"lat", 64}, {"lon", 128}}},
    {"geocat_uvt.nc", {{"lat", 64}, {"lon", 128}, {"lev", 14}, {"time", 1}}},
    {"headscratcher_sresa1b_ncar_ccsm3-example.nc",
     {{"lat", 128}, {"lon", 256}, {"bnds", 2}, {"plev", 17}, {"time", 1}}},
    {"wavespectra_ww3file.nc", {{"direction", 24}, {"time", 9}, {"station", 2}, {"frequency", 25}}},
    {"xrdata_eraint_uvz.nc", {{"longitude", 480}, {"latitude", 241}, {"level", 3}, {"month", 2}}},
};
const std::map<std::string, std::string> kFormats = {
    {"geocat_era5_1995-07-14T12.nc", "netCDF-4"},
    {"geocat_nc4uvt.nc", "netCDF-4"},
    {"xrdata_eraint_uvz.nc", "netCDF-3 64-bit offset"},
    {"geocat_uvt.nc", "netCDF-3 classic"},
};
}  // namespace

TEST(InspectCli, EveryRealFileWithCorrectDimensions) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  // Every file of the folder is in the table: a file added there must be added here too.
  for (const auto& e : fs::directory_iterator(climseg::test::shared_data() / "real")) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name != "PROVENANCE.md") {
      EXPECT_TRUE(kRealDims.count(name)) << name << " is not in the test's table of ncdump dimensions";
    }
  }
  for (const auto& [name, dims] : kRealDims) {
    fs::path f = climseg::test::real_file(name);
    auto r = run_climseg("inspect --json " + f.string());
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    json j = json::parse(r.out);
    std::map<std::string, size_t> got;
    for (const json& d : j["dimensions"]) got[d["name"]] = d["length"];
    EXPECT_EQ(got, dims) << name;
    if (kFormats.count(name)) {
      EXPECT_EQ(j["format"], kFormats.at(name)) << name;
    }
    auto text = run_climseg("inspect " + f.string());
    EXPECT_EQ(text.exit_code, 0) << name << ": " << text.err;
  }
}

TEST(InspectCli, VariablesCarryTypeShapeUnitsAndLongName) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  auto r = run_climseg("inspect --json " + climseg::test::real_file("geocat_era5_1995-07-14T12.nc").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  bool found = false;
  for (const json& v : j["variables"]) {
    if (v["name"] != "sp") continue;
    found = true;
    EXPECT_EQ(v["type"], "short");
    EXPECT_EQ(v["shape"], json({105, 237}));
    EXPECT_EQ(v["units"], "Pa");
    EXPECT_EQ(v["long_name"], "Surface pressure");
  }
  EXPECT_TRUE(found) << r.out;
}

TEST(InspectCli, NetCdf4GroupsAndHdf5Weights) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  auto r =
      run_climseg("inspect --json " + (climseg::test::shared_data() / "climatenet" / "cgnet_climatenet.h5").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["format"], "HDF5");
  ASSERT_EQ(j["groups"].size(), 1u);
  EXPECT_EQ(j["groups"][0]["name"], "state_dict");
  EXPECT_GT(j["groups"][0]["variables"].size(), 100u);
}

TEST(InspectCli, BadInputsGiveOneClearLineAndExitOne) {
  TempDir dir;
  std::ofstream(dir / "notes.txt") << "this is not netcdf\n";
  fs::create_directory(dir / "adir");
  struct Case {
    std::string path, expect;
  };
  std::vector<Case> cases = {
      {(dir / "missing.nc").string(), "no such file"},
      {(dir / "adir").string(), "is a directory"},
      {(dir / "notes.txt").string(), "not a NetCDF or HDF5 file"},
  };
  if (!climseg::test::shared_data().empty()) {
    // A classic file cut after its header, and a netCDF-4 file cut in half.
    for (auto [src, keep] :
         {std::pair{std::string("geocat_hgt.nc"), 20000}, {std::string("geocat_nc4uvt.nc"), 1200000}}) {
      std::ifstream in(climseg::test::real_file(src), std::ios::binary);
      std::string bytes(static_cast<size_t>(keep), '\0');
      in.read(bytes.data(), keep);
      std::ofstream(dir / ("cut_" + src), std::ios::binary) << bytes;
      cases.push_back({(dir / ("cut_" + src)).string(), "truncated or damaged"});
    }
  }
  for (const Case& c : cases) {
    auto r = run_climseg("inspect " + c.path);
    EXPECT_EQ(r.exit_code, 1) << c.path;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.path << ": " << r.err;
    EXPECT_EQ(r.err.rfind("climseg: error: " + c.path, 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
  }
}

// A library crash while opening a file (HDF5 on some damaged files, docs/reliability.md) is one error
// line naming the file and exit 1, on one rank and on each rank of a job. A preloaded nc_open that
// faults stands for the damaged file: the real ones crash only where the allocator notices.
TEST(InspectCli, LibraryCrashOpeningAFileIsOneLineNamingIt) {
  const fs::path shim = climseg::test::climseg_exe().parent_path() / "climseg_test_crash_in_nc_open.so";
  if (!fs::exists(shim)) GTEST_SKIP() << shim << " not built (sanitizer builds): test skipped";
  TempDir dir;
  const fs::path file = dir / "crash_in_nc_open.nc";
  fs::copy_file(climseg::test::test_data().parent_path().parent_path() / "data/sample/synth.cam.h2.2000-01-01-00000.nc",
                file);
  const std::string exe = climseg::test::climseg_exe().string();
  auto ok = climseg::test::run_command("LD_PRELOAD=" + shim.string() + " " + exe + " inspect " + exe + "/../x.nc");
  EXPECT_EQ(ok.exit_code, 1) << "the shim must pass other files on to the real nc_open: " << ok.err;
  EXPECT_NE(ok.err.find("x.nc"), std::string::npos) << ok.err;
  auto r = climseg::test::run_command("LD_PRELOAD=" + shim.string() + " " + exe + " inspect " + file.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "climseg: error: " + file.string() +
                       ": damaged: the HDF5 library crashed with signal 11 (Segmentation fault) while opening it; "
                       "check the file with ncdump or h5dump, and replace it or leave it out of the inputs\n");
  EXPECT_EQ(r.out, "");
  // Under the launcher (Open MPI installs its own handler in MPI_Init; climseg's comes first).
  auto m = climseg::test::run_command(climseg::test::mpiexec(2) + " -x LD_PRELOAD=" + shim.string() + " " + exe +
                                      " inspect " + file.string());
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.err.find("climseg: error: [rank 0/2] " + file.string() + ": damaged: the HDF5 library crashed"),
            std::string::npos)
      << m.err;
  EXPECT_EQ(m.err.find("Segmentation fault:"), std::string::npos) << "Open MPI's backtrace handler ran:\n" << m.err;
}
