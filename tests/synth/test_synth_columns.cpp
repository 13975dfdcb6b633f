// `climseg synth --grid ne30np4` (and pg2): CAM-SE-like column files of the same world as the lat-lon
// archive of the same spacing and seed: the layout readers recognise, the generated columns, the
// fields and labels at the columns, and the same planted cyclones and rivers in the truth tables.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>

#include "geo/cubed_sphere.hpp"
#include "models/synth/synth.hpp"
#include "readers/column_file.hpp"
#include "readers/scrip.hpp"
#include "test_support.hpp"

using namespace climseg;
namespace fs = std::filesystem;

TEST(SynthColumns, Ne30np4ArchiveIsTheWorldAtTheColumns) {
  test::TempDir dir;
  auto r =
      test::run_climseg(fmt::format("--no-progress -q synth --out {} --grid ne30np4 --steps 3 --steps-per-file 2 "
                                    "--hours 6 --seed 3",
                                    (dir / "cols").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r =
      test::run_climseg(fmt::format("--no-progress -q synth --out {} --grid 181x360 --steps 3 --steps-per-file 2 "
                                    "--hours 6 --seed 3",
                                    (dir / "ll").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path f0 = dir / "cols" / "synth.cam.h2.2000-01-01-00000.nc";
  ASSERT_TRUE(fs::exists(f0));
  ASSERT_TRUE(fs::exists(dir / "cols" / "synth.cam.h2.2000-01-01-43200.nc"));
  const auto layout = io::detect_column_layout(f0);
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->dimension, "ncol");
  EXPECT_EQ(layout->columns, 48602);
  EXPECT_EQ(layout->description, "cubed sphere ne30np4");
  EXPECT_EQ(io::column_steps(f0, "PSL", "ncol"), 2);

  // The fields at the columns are the world's (generated here independently of the files).
  synth::SynthConfig c;
  c.height = 181;
  c.width = 360;
  c.steps = 3;
  c.hours = 6;
  c.seed = 3;
  const synth::World world(c);
  const geo::UnstructuredGrid g = geo::cubed_sphere_grid(*geo::parse_cubed_sphere("ne30np4"));
  synth::StepFields s;
  world.generate_columns(1, g, s);
  const std::vector<float> psl = io::read_column_step(f0, "PSL", "ncol", 1);
  const std::vector<float> lab = io::read_column_step(f0, "LABELS", "ncol", 1);
  const std::vector<float> lat = io::read_column_step(f0, "lat", "ncol", 0);
  ASSERT_EQ(psl.size(), size_t(g.size()));
  int64_t cyclone = 0;
  for (int64_t i = 0; i < g.size(); ++i) {
    ASSERT_EQ(psl[size_t(i)], s.fields[synth::kPSL * g.size() + i]);
    ASSERT_EQ(lab[size_t(i)], s.labels[i]);
    ASSERT_FLOAT_EQ(lat[size_t(i)], float(g.lat[size_t(i)]));
    cyclone += lab[size_t(i)] == 1.0f;
  }
  EXPECT_GT(cyclone, 20);

  // The same planted storms as the lat-lon archive of the same seed and spacing.
  const auto a = test::read_csv(dir / "cols" / "synth_cyclones.csv");
  const auto b = test::read_csv(dir / "ll" / "synth_cyclones.csv");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 3u);
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].at("id"), b[k].at("id"));
    EXPECT_EQ(a[k].at("lat"), b[k].at("lat"));
    EXPECT_EQ(a[k].at("lon"), b[k].at("lon"));
    EXPECT_EQ(a[k].at("dp_pa"), b[k].at("dp_pa"));
    // The smallest PSL near the centre is sampled at other points of a core ~100 km wide: both show
    // a good part of the central deficit.
    const double dp = std::stod(a[k].at("dp_pa"));
    EXPECT_LT(std::stod(a[k].at("psl_min_pa")), 101500.0 - 0.3 * dp);
    EXPECT_LT(std::stod(b[k].at("psl_min_pa")), 101500.0 - 0.3 * dp);
  }
  EXPECT_NE(read_file(dir / "cols" / "synth.json").find("\"cubed_sphere\": \"ne30np4\""), std::string::npos);
}

TEST(SynthColumns, Pg2AndBadCombinations) {
  test::TempDir dir;
  auto r = test::run_climseg(
      fmt::format("--no-progress -q synth --out {} --grid ne8pg2 --steps 1 --seed 2", (dir / "pg").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto layout = io::detect_column_layout(dir / "pg" / "synth.cam.h2.2000-01-01-00000.nc");
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->columns, 6 * 64 * 4);
  r = test::run_climseg(fmt::format("--no-progress synth --out {} --grid ne30np4 --waves", (dir / "x").string()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--waves, --levels and --lat-descending are for lat-lon archives"), std::string::npos) << r.err;
  r = test::run_climseg(fmt::format("--no-progress synth --out {} --grid ne30xx4", (dir / "x").string()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("or a cubed sphere"), std::string::npos) << r.err;
}
