// models/pipelines/plot_pipeline: a map drawn in-process is the command's, byte for byte; tracks
// are read from a table; the config is read strictly.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "models/pipelines/plot_pipeline.hpp"
#include "pipeline_test_util.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace climseg;
using pipelines::PlotConfig;

namespace {

std::string bytes_of(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Width and height from a PNG's IHDR chunk (big-endian at bytes 16 and 20).
std::pair<uint32_t, uint32_t> png_size(const std::string& png) {
  auto be = [&](size_t at) {
    return uint32_t(uint8_t(png[at])) << 24 | uint32_t(uint8_t(png[at + 1])) << 16 |
           uint32_t(uint8_t(png[at + 2])) << 8 | uint32_t(uint8_t(png[at + 3]));
  };
  return {be(16), be(20)};
}

}  // namespace

TEST(PlotPipeline, DrawsInProcessWhatTheCommandDraws) {
  test::TempDir dir;
  test::small_archive(dir / "a");
  {
    std::ofstream t(dir / "tracks.csv");
    t << "track_id,step,lat,lon\n1,0,-10,100\n1,1,-11,99\n2,1,30,200\n";
  }
  PlotConfig cfg;
  cfg.in = {(dir / "a").string()};
  cfg.var = "TMQ";
  cfg.steps = "1";
  cfg.labels = "auto";
  cfg.tracks = (dir / "tracks.csv").string();
  cfg.width = 96;
  cfg.coastlines = false;
  cfg.out = (dir / "in_process.png").string();
  const pipelines::PlotReport r = pipelines::run_plot(cfg, Comm::world());
  EXPECT_EQ(r.pictures, 1);
  ASSERT_EQ(r.written, std::vector<std::string>{cfg.out});
  const std::string png = bytes_of(cfg.out);
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const auto [width, height] = png_size(png);
  EXPECT_GT(width, 96u) << "the map (96 pixels) with its colour bar";
  EXPECT_GT(height, 0u);

  const fs::path cli = dir / "cli.png";
  auto run = test::run_climseg(
      fmt::format("--no-progress -q plot --in {} --var TMQ --steps 1 --labels auto --tracks {} --width 96 "
                  "--no-coastlines --out {}",
                  (dir / "a").string(), cfg.tracks, cli.string()));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(bytes_of(cli), png);
  // --print-config shows the same configuration the flags made.
  run = test::run_climseg(fmt::format(
      "plot --in {} --var TMQ --steps 1 --labels auto --tracks {} --width 96 --no-coastlines --out {} --print-config",
      (dir / "a").string(), cfg.tracks, cfg.out));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(nlohmann::json::parse(run.out), cfg.to_json());
}

TEST(PlotPipeline, ConfigIsReadStrictlyNamingTheKey) {
  auto message = [](const nlohmann::json& j) {
    try {
      PlotConfig::from_json(j);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  const nlohmann::json ok = {{"in", "a.nc"}, {"var", "TMQ"}, {"out", "m.png"}};
  EXPECT_EQ(message(ok), "(accepted)");
  nlohmann::json bad = ok;
  bad["vmin"] = "low";
  EXPECT_EQ(message(bad), "plot config: 'vmin' must be a number (or null: a percentile of the field), got \"low\"");
  bad = ok;
  bad["vmin"] = 10;
  bad["vmax"] = 5;
  EXPECT_EQ(message(bad), "--vmin 10 --vmax 5: the colour bar needs --vmin below --vmax");
  EXPECT_EQ(message({{"out", "m.png"}}), "plot: --in and --var are required (or --summary FILE)");
  EXPECT_EQ(message({{"out", "d"}, {"summary", "events_summary.json"}}), "(accepted)");
  bad = ok;
  bad["coastline"] = false;
  EXPECT_NE(message(bad).find("plot config: unknown key 'coastline'"), std::string::npos);
}
