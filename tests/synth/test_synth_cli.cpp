// `climseg synth` as a user runs it: help, one-line usage errors, the files it lists, and outputs that
// open cleanly in ncdump, xarray and cdo (skipped with a message when xarray or cdo is absent).
#include <gtest/gtest.h>

#include <fstream>

#include "test_support.hpp"

namespace fs = std::filesystem;
using climseg::test::run_climseg;
using climseg::test::run_command;

namespace {

int count_lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

bool have(const std::string& check) { return run_command(check).exit_code == 0; }

// One small archive with levels and waves, made once for the checks below.
const fs::path& archive() {
  static climseg::test::TempDir dir;
  static bool made = false;
  if (!made) {
    auto r = run_climseg("--no-progress synth --out " + (dir / "a").string() +
                         " --grid 32x64 --steps 3 --steps-per-file 2 --levels pressure --waves --seed 3");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    made = true;
  }
  static fs::path p = dir / "a";
  return p;
}

}  // namespace

TEST(SynthCli, HelpNamesTheOptions) {
  auto r = run_climseg("synth --help");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* w :
       {"--out", "--grid", "--steps-per-file", "--seed", "--calendar", "--lat-descending", "--levels", "--waves"})
    EXPECT_NE(r.out.find(w), std::string::npos) << w;
}

TEST(SynthCli, BadOptionsAreOneLineUsageErrors) {
  climseg::test::TempDir dir;
  for (const std::string args : {"--grid 10by20", "--grid 4x8", "--calendar julian", "--levels sigma",
                                 "--start 2001-02-29", "--steps 0", "--plev 500,850 --levels pressure"}) {
    auto r = run_climseg("synth --out " + (dir / "x").string() + " " + args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("climseg: error: ", 0), 0u) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "x" / "synth.json"));
}

TEST(SynthCli, UnwritableOutputIsARuntimeError) {
  climseg::test::TempDir dir;
  { std::ofstream(dir / "file") << "x"; }
  auto r = run_climseg("synth --out " + (dir / "file" / "sub").string() + " --grid 16x32 --steps 1");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(SynthCli, ListsWhatItWrote) {
  const fs::path& a = archive();
  for (const char* f :
       {"synth.json", "synth_cyclones.csv", "synth_rivers.csv", "synth_waves.csv", "synth.cam.h2.2000-01-01-00000.nc",
        "synth.cam.h2.2000-01-01-21600.nc", "waves/synth.ww3.2000-01-01-00000.nc"})
    EXPECT_TRUE(fs::exists(a / f)) << f;
}

TEST(SynthCli, OutputsOpenInNcdump) {
  const fs::path& a = archive();
  auto r = run_command("ncdump -h " + (a / "synth.cam.h2.2000-01-01-00000.nc").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("byte LABELS(time, lat, lon)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("time = UNLIMITED ; // (2 currently)"), std::string::npos);
  r = run_command("ncdump -v hs " + (a / "waves/synth.ww3.2000-01-01-00000.nc").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(SynthCli, OutputsOpenInXarray) {
  if (!have("/usr/bin/python3 -c 'import xarray, netCDF4' 2>/dev/null"))
    GTEST_SKIP() << "python3-xarray/netCDF4 not installed (scripts/test.sh installs them)";
  const fs::path& a = archive();
  const std::string script =
      "import xarray, sys\n"
      "d = xarray.open_dataset(sys.argv[1])\n"
      "assert d['TMQ'].dims == ('time', 'lat', 'lon'), d['TMQ'].dims\n"
      "assert str(d.time.values[1]) == '2000-01-01 03:00:00', d.time.values\n"
      "assert d.time.values[1].calendar == 'noleap'\n"
      "assert set(int(x) for x in d['LABELS'].values.ravel()) <= {0, 1, 2}\n"
      "assert d['Q'].dims == ('time', 'lev', 'lat', 'lon')\n"
      "w = xarray.open_dataset(sys.argv[2])\n"
      "assert abs(float(w['hs'].max()) - float(w['hs'].max())) == 0 and float(w['hs'].min()) >= 0\n"
      "assert w['hs'].isnull().any()\n"
      "print('ok')\n";
  { std::ofstream(a / "check.py") << script; }
  auto r = run_command("/usr/bin/python3 " + (a / "check.py").string() + " " +
                       (a / "synth.cam.h2.2000-01-01-00000.nc").string() + " " +
                       (a / "waves/synth.ww3.2000-01-01-00000.nc").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
}

TEST(SynthCli, OutputsOpenInCdo) {
  if (!have("command -v cdo >/dev/null")) GTEST_SKIP() << "cdo not installed (scripts/test.sh installs it)";
  const fs::path& a = archive();
  auto r = run_command("cdo -s sinfo " + (a / "synth.cam.h2.2000-01-01-00000.nc").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lonlat"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Calendar = 365_day"), std::string::npos) << r.out;  // cdo's name for noleap
  EXPECT_NE(r.out.find("2000-01-01 03:00:00"), std::string::npos) << r.out;
  r = run_command("cdo -s sinfo " + (a / "waves/synth.ww3.2000-01-01-00000.nc").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
}
