// models/pipelines/stats_pipeline: run in-process against the file's values read raw, its config
// read strictly, and `climseg stats --config SUMMARY` reproducing a run bit for bit.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "models/pipelines/stats_pipeline.hpp"
#include "pipeline_test_util.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace climseg;
using pipelines::StatsConfig;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST(StatsPipeline, RunsInProcessAndMatchesTheFilesValues) {
  test::TempDir dir;
  const auto files = test::small_archive(dir / "a");
  ASSERT_EQ(files.size(), 2u);
  StatsConfig cfg;
  cfg.in = {(dir / "a").string()};
  cfg.vars = "TMQ";
  cfg.out = (dir / "s.json").string();
  cfg.percentile_map = {50};
  cfg.out_map = (dir / "p.nc").string();
  const pipelines::StatsReport r = pipelines::run_stats(cfg, Comm::world());

  // Reference: TMQ of both files read with the NetCDF library, summed in double.
  std::vector<float> all;
  for (const auto& f : files) {
    const auto v = test::nc_floats(f, "TMQ");
    all.insert(all.end(), v.begin(), v.end());
  }
  ASSERT_EQ(all.size(), size_t(8 * 32 * 48));
  double sum = 0;
  for (float v : all) sum += v;
  ASSERT_EQ(r.stats.channels.size(), 1u);
  const io::ChannelStat& c = r.stats.channels[0];
  EXPECT_EQ(c.count, int64_t(all.size()));
  EXPECT_NEAR(c.mean, sum / double(all.size()), 1e-9 * std::abs(sum / double(all.size())));
  EXPECT_EQ(c.min, double(*std::min_element(all.begin(), all.end())));
  EXPECT_EQ(c.max, double(*std::max_element(all.begin(), all.end())));

  // The map's median of 8 steps at every cell: the mean of the 4th and 5th values, by hand.
  const auto p50 = test::nc_floats(dir / "p.nc", "TMQ_p50");
  const size_t n = 32 * 48;
  ASSERT_EQ(p50.size(), n);
  for (size_t k = 0; k < n; k += 97) {
    std::vector<float> cell;
    for (size_t t = 0; t < 8; ++t) cell.push_back(all[t * n + k]);
    std::sort(cell.begin(), cell.end());
    EXPECT_EQ(p50[k], float(0.5 * (double(cell[3]) + double(cell[4])))) << "cell " << k;
  }

  // The file holds the whole configuration, which reads back to the same.
  const auto js = nlohmann::json::parse(slurp(dir / "s.json"));
  EXPECT_EQ(js.at("config"), cfg.to_json());
  EXPECT_EQ(StatsConfig::from_json(js.at("config")).to_json(), cfg.to_json());
  EXPECT_EQ(r.written, (std::vector<std::string>{cfg.out, cfg.out_map}));
}

TEST(StatsPipeline, ConfigIsReadStrictlyNamingTheKey) {
  auto message = [](const nlohmann::json& j) {
    try {
      StatsConfig::from_json(j);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  const nlohmann::json ok = {{"in", {"a.nc"}}, {"out", "-"}};
  EXPECT_EQ(message(ok), "(accepted)");
  nlohmann::json bad = ok;
  bad["fill"] = "maybe";
  EXPECT_EQ(message(bad), "stats config: 'fill' must be one of mask, skip, error, got 'maybe'");
  bad = ok;
  bad["percentils"] = {1};
  EXPECT_NE(message(bad).find("stats config: unknown key 'percentils'"), std::string::npos) << message(bad);
  bad = ok;
  bad["percentiles"] = {1, 150};
  EXPECT_NE(message(bad).find("percentile '150' is not a number in [0, 100]"), std::string::npos) << message(bad);
  EXPECT_NE(message({{"out", "-"}}).find("'in' is required"), std::string::npos);
  bad = ok;
  bad["percentile_map"] = {99};
  EXPECT_EQ(message(bad), "--percentile-map and --out-map go together");
  // The flag's text and a list of numbers are the same setting (sorted).
  nlohmann::json text = ok, list = ok;
  text["percentiles"] = "99,1,50";
  list["percentiles"] = {1, 50, 99};
  EXPECT_EQ(StatsConfig::from_json(text).to_json(), StatsConfig::from_json(list).to_json());
}

// The statistics file fed back as --config writes the same statistics file and map, byte for byte
// (the map: every variable's bytes and its run key; its history line holds the time of the run).
TEST(StatsPipeline, StatisticsFileAsConfigReproducesTheRun) {
  test::TempDir dir;
  test::small_archive(dir / "a");
  const fs::path js = dir / "s.json", map = dir / "p.nc";
  auto r = test::run_climseg(fmt::format(
      "--no-progress -q stats --in {} --vars TMQ,PSL --percentiles 10,90 --area-weighted --percentile-map 50,99.5 "
      "--out-map {} --out {}",
      (dir / "a").string(), map.string(), js.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string first = slurp(js);
  const auto first_map = test::nc_contents(map);
  const auto cfg = nlohmann::json::parse(first).at("config");
  EXPECT_EQ(cfg.at("percentiles"), nlohmann::json({10, 90}));
  EXPECT_EQ(cfg.at("area_weighted"), true);
  fs::copy_file(js, dir / "summary.json");
  fs::remove(js);
  fs::remove(map);

  auto printed = test::run_climseg("stats --config " + (dir / "summary.json").string() + " --print-config");
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_EQ(nlohmann::json::parse(printed.out), cfg);

  r = test::run_climseg("--no-progress -q stats --config " + (dir / "summary.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(js), first);
  EXPECT_EQ(test::nc_contents(map), first_map);
  EXPECT_EQ(first_map.count("TMQ_p99_5"), 1u);
  EXPECT_EQ(first_map.count("(climseg_run_key)"), 1u);
}
