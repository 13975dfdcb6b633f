// Writer outputs that give results back in the input's own orientation open cleanly in ncdump,
// xarray (with CF decoding) and cdo: `climseg label` on MERRA-2 (longitude -180..179.375) and
// `climseg predict` on a synthetic archive with descending latitude. The python checks compare the
// output's coordinates, time and copied data with the input file as xarray reads it. Skipped with
// a message when xarray or cdo is absent.
#include <gtest/gtest.h>

#include <fstream>

#include "test_support.hpp"

namespace fs = std::filesystem;
using climseg::test::real_file;
using climseg::test::run_climseg;
using climseg::test::run_command;
using climseg::test::TempDir;

namespace {

bool have(const std::string& check) { return run_command(check).exit_code == 0; }

struct Output {
  fs::path in, out;
};

// Labels (+ IWV, IVT copied) for the MERRA-2 file, made once.
const Output& merra() {
  static TempDir dir;
  static Output o;
  if (o.out.empty()) {
    o.in = real_file("climdeeplearn_IWV_IVT_MERRA_20170228_00.nc");
    auto r = run_climseg("--no-progress label --in " + o.in.string() + " --detect ar --with-data IWV,IVT --out " +
                         (dir / "label").string());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    o.out = dir / "label" / "climdeeplearn_IWV_IVT_MERRA_20170228_00.labels.nc";
  }
  return o;
}

// Predictions of the bundled 96x144 model on a 2-step synthetic archive written with
// --lat-descending, made once.
const Output& synth() {
  static TempDir dir;
  static Output o;
  if (o.out.empty()) {
    auto r = run_climseg("--no-progress synth --out " + (dir / "syn").string() +
                         " --grid 96x144 --steps 2 --steps-per-file 2 --lat-descending --seed 5");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    o.in = dir / "syn" / "synth.cam.h2.2000-01-01-00000.nc";
    const fs::path model = climseg::test::test_data().parent_path().parent_path() / "data/models/cgnet_synth_96x144.h5";
    r = run_climseg("--no-progress predict -m " + model.string() + " -i " + (dir / "syn").string() + " -o " +
                    (dir / "pred").string() + " --probabilities");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    o.out = dir / "pred" / "synth.cam.h2.2000-01-01-00000.climseg.nc";
  }
  return o;
}

climseg::test::RunResult python(const std::string& script, const std::vector<fs::path>& args) {
  static TempDir dir;
  static int n = 0;
  const fs::path p = dir / ("check" + std::to_string(n++) + ".py");
  { std::ofstream(p) << script; }
  std::string cmd = "/usr/bin/python3 " + p.string();
  for (const fs::path& a : args) cmd += " " + a.string();
  return run_command(cmd);
}

}  // namespace

TEST(WriterCli, LabelsAndPredictionsOpenInNcdump) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  // Full dump (data too), not only the header.
  auto r = run_command("ncdump " + merra().out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("byte LABELS(time, lat, lon)"), std::string::npos);
  EXPECT_NE(r.out.find("LABELS:flag_meanings = \"background tropical_cyclone atmospheric_river"), std::string::npos);
  EXPECT_NE(r.out.find(" lon = -180, -179.375,"), std::string::npos);
  r = run_command("ncdump " + synth().out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("class_mask:flag_values = 0b, 1b, 2b ;"), std::string::npos) << r.out.substr(0, 3000);
  EXPECT_NE(r.out.find(" lat = 90, 88.1052631578947,"), std::string::npos);
}

TEST(WriterCli, LabelsOnMerra2ComeBackInXarrayWithSignedLongitudes) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  if (!have("/usr/bin/python3 -c 'import xarray, netCDF4' 2>/dev/null"))
    GTEST_SKIP() << "python3-xarray/netCDF4 not installed (scripts/test.sh installs them)";
  const std::string script =
      "import sys, numpy as np, xarray\n"
      "i = xarray.open_dataset(sys.argv[1]); d = xarray.open_dataset(sys.argv[2])\n"
      "assert float(d.lon[0]) == -180.0 and float(d.lon[-1]) == 179.375, d.lon.values\n"
      // The file's own longitudes bit for bit (its lon[288] is -5.9e-13, not the 0 a grid rebuilt
      // from the canonical one would give).
      "assert np.array_equal(d.lon.values, i.lon.values), abs(d.lon.values - i.lon.values).max()\n"
      "assert np.array_equal(d.lat.values, i.lat.values)\n"
      "assert np.array_equal(d.time.values, i.time.values), (d.time.values, i.time.values)\n"
      "assert str(d.time.values[0])[:19] == '2017-02-28T00:00:00', d.time.values\n"
      // The copied channels, cell for cell in the file's own orientation.
      "assert np.array_equal(d.IWV.values, i.IWV.values) and np.array_equal(d.IVT.values, i.IVT.values)\n"
      "a = d.LABELS.attrs\n"
      "assert list(a['flag_values']) == [0, 1, 2, 3], a\n"
      "assert a['flag_meanings'] == 'background tropical_cyclone atmospheric_river extreme_waves', a\n"
      "L = d.LABELS.values; ivt = i.IVT.values\n"
      "assert set(np.unique(L[~np.isnan(L)]).astype(int)) <= {0, 2}\n"
      // Rivers lie where IVT is high in the input's own grid (409 vs 107 kg m-1 s-1 elsewhere); the
      // same mask rolled half way round covers 215.
      "inside, outside = ivt[L == 2].mean(), ivt[L == 0].mean()\n"
      "rolled = ivt[np.roll(L, 288, axis=2) == 2].mean()\n"
      "assert inside > 3 * outside and inside > 1.5 * rolled, (inside, outside, rolled)\n"
      "print('ok')\n";
  auto r = python(script, {merra().in, merra().out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
}

TEST(WriterCli, PredictionsOnADescendingLatitudeArchiveComeBackInXarrayDescending) {
  if (!have("/usr/bin/python3 -c 'import xarray, netCDF4' 2>/dev/null"))
    GTEST_SKIP() << "python3-xarray/netCDF4 not installed (scripts/test.sh installs them)";
  const std::string script =
      "import sys, numpy as np, xarray\n"
      "i = xarray.open_dataset(sys.argv[1]); d = xarray.open_dataset(sys.argv[2])\n"
      "assert float(d.lat[0]) == 90.0 and float(d.lat[-1]) == -90.0, d.lat.values\n"
      "assert np.array_equal(d.lat.values, i.lat.values) and np.array_equal(d.lon.values, i.lon.values)\n"
      "assert np.array_equal(d.time.values, i.time.values)\n"
      "assert d.time.values[1].calendar == 'noleap' and str(d.time.values[1]) == '2000-01-01 03:00:00'\n"
      "a = d.class_mask.attrs\n"
      "assert list(a['flag_values']) == [0, 1, 2], a\n"
      "assert a['flag_meanings'] == 'Background Tropical_Cyclone Atmospheric_River', a\n"
      "p = d.class_mask.values; t = i.LABELS.values\n"
      "s = d.prob_Background + d.prob_Tropical_Cyclone + d.prob_Atmospheric_River\n"
      "assert abs(float(s.min()) - 1) < 1e-5 and abs(float(s.max()) - 1) < 1e-5\n"
      // The planted truth is recovered in the file's orientation and not when flipped north-south.
      "m = t > 0; same = (p[m] == t[m]).mean()\n"
      "f = t[:, ::-1] > 0; flipped = (p[f] == t[:, ::-1][f]).mean()\n"
      "assert same > 0.4 and same > 3 * flipped, (same, flipped)\n"
      "print('ok')\n";
  auto r = python(script, {synth().in, synth().out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
}

TEST(WriterCli, LabelsAndPredictionsOpenInCdo) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  if (!have("command -v cdo >/dev/null")) GTEST_SKIP() << "cdo not installed (scripts/test.sh installs it)";
  auto r = run_command("cdo -s sinfo " + merra().out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lon : -180 to 179.375 by 0.625 degrees_east  circular"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lat : -90 to 90 by 0.5 degrees_north"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2017-02-28 00:00:00"), std::string::npos) << r.out;
  r = run_command("cdo -s sinfo " + synth().out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lat : 90 to -90 by -1.894737 degrees_north"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Calendar = 365_day"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2000-01-01 03:00:00"), std::string::npos) << r.out;
}
