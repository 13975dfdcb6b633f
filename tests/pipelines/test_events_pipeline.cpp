// models/pipelines/events_pipeline: run in-process against the planted class maps, the id map laid
// out like the input (its own coordinate values), and `climseg events --config SUMMARY` reproducing
// every output of a run bit for bit.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "models/pipelines/events_pipeline.hpp"
#include "pipeline_test_util.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace climseg;
using pipelines::EventsConfig;

namespace {

std::string file_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST(EventsPipeline, RunsInProcessOnThePlantedClassMaps) {
  test::TempDir dir;
  const auto files = test::small_archive(dir / "a");
  EventsConfig cfg;
  cfg.in = {(dir / "a").string()};
  cfg.out = (dir / "ev").string();
  cfg.field = "PSL";
  cfg.peak = pipelines::Peak::min;
  cfg.plots = false;
  const pipelines::EventsReport r = pipelines::run_events(cfg, Comm::world());
  EXPECT_EQ(r.steps, 8);
  EXPECT_GT(r.events_kept, 0) << "the synth archive plants cyclones and rivers";
  EXPECT_EQ(r.summary.at("config"), cfg.to_json());
  EXPECT_EQ(EventsConfig::from_json(r.summary.at("config")).to_json(), cfg.to_json());
  EXPECT_EQ(r.written, (std::vector<std::string>{"events.csv", "event_points.csv", "events_summary.json",
                                                 "events_summary.nc", "event_ids.nc"}));

  // Every labelled cell of the input (LABELS, read raw) has an event id and no other cell has one
  // (every class followed, no filter), and the ids are the rows of events.csv.
  std::vector<float> truth;
  for (const auto& f : files) {
    const auto v = test::nc_floats(f, "LABELS");
    truth.insert(truth.end(), v.begin(), v.end());
  }
  const auto ids = test::nc_floats(dir / "ev" / "event_ids.nc", "event_id");
  ASSERT_EQ(ids.size(), truth.size());
  for (size_t k = 0; k < ids.size(); ++k) ASSERT_EQ(truth[k] > 0, ids[k] > 0) << "cell " << k;
  std::set<int> in_map, in_table;
  for (float v : ids)
    if (v > 0) in_map.insert(int(v));
  for (const auto& row : test::read_csv(dir / "ev" / "events.csv")) in_table.insert(std::stoi(row.at("event_id")));
  EXPECT_EQ(in_map, in_table);
  EXPECT_EQ(int64_t(in_table.size()), r.events_kept);

  // The id map is laid out like the input (io::output_like): its own coordinate values, bit for bit.
  const auto in = test::nc_contents(files.front()), out = test::nc_contents(dir / "ev" / "event_ids.nc");
  for (const char* coord : {"lat", "lon"}) {
    ASSERT_EQ(out.count(coord), 1u) << coord;
    EXPECT_EQ(out.at(coord), in.at(coord)) << coord;
  }
}

TEST(EventsPipeline, ConfigIsReadStrictlyNamingTheKey) {
  auto message = [](const nlohmann::json& j) {
    try {
      EventsConfig::from_json(j);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  const nlohmann::json ok = {{"in", "a"}, {"out", "ev"}};
  EXPECT_EQ(message(ok), "(accepted)");
  nlohmann::json bad = ok;
  bad["peak"] = "mean";
  EXPECT_EQ(message(bad), "events config: 'peak' must be one of max, min, got 'mean'");
  bad = ok;
  bad["classes"] = "1,300";
  EXPECT_EQ(message(bad), "--classes 1,300: classes are numbers 1..255");
  bad = ok;
  bad["chunk"] = 0;
  EXPECT_EQ(message(bad), "--chunk must be >= 1");
  bad = ok;
  bad["min_steps"] = "two";
  EXPECT_EQ(message(bad), "events config: 'min_steps' has the wrong type: \"two\"");
  // The flag's text and a list are the same setting.
  nlohmann::json text = ok, list = ok;
  text["distance_classes"] = "1,2";
  list["distance_classes"] = {1, 2};
  EXPECT_EQ(EventsConfig::from_json(text).to_json(), EventsConfig::from_json(list).to_json());
}

// events_summary.json fed back as --config rewrites every output byte for byte: the tables and the
// summary as files, the NetCDF outputs variable by variable with their run keys (their history line
// holds the time of the run).
TEST(EventsPipeline, SummaryAsConfigReproducesTheRun) {
  test::TempDir dir;
  test::small_archive(dir / "a");
  const fs::path out = dir / "ev";
  const std::string flags = fmt::format(
      "--in {} --out {} --field PSL --peak min --min-steps 2 --max-speed 2000 --classes 1,2 --genesis-cell 10 "
      "--no-plots",
      (dir / "a").string(), out.string());
  auto r = test::run_climseg("--no-progress -q events " + flags);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const char* texts[] = {"events.csv", "event_points.csv", "events_summary.json"};
  std::map<std::string, std::string> first;
  for (const char* f : texts) first[f] = file_bytes(out / f);
  const auto first_ids = test::nc_contents(out / "event_ids.nc");
  const auto first_sum = test::nc_contents(out / "events_summary.nc");
  const auto cfg = nlohmann::json::parse(first["events_summary.json"]).at("config");
  EXPECT_EQ(cfg.at("min_steps"), 2);
  EXPECT_EQ(cfg.at("classes"), nlohmann::json({1, 2}));
  EXPECT_EQ(cfg.at("ids"), true);
  EXPECT_EQ(cfg.at("plots"), false);
  // The run key still names today's flags.
  EXPECT_NE(first["events_summary.json"].find("\"--min-steps\": \"2\""), std::string::npos);

  auto printed = test::run_climseg("events " + flags + " --print-config");
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_EQ(nlohmann::json::parse(printed.out), cfg);

  fs::copy_file(out / "events_summary.json", dir / "summary.json");
  fs::remove_all(out);
  r = test::run_climseg("--no-progress -q events --config " + (dir / "summary.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : texts) EXPECT_EQ(file_bytes(out / f), first[f]) << f;
  EXPECT_EQ(test::nc_contents(out / "event_ids.nc"), first_ids);
  EXPECT_EQ(test::nc_contents(out / "events_summary.nc"), first_sum);
  EXPECT_EQ(first_ids.count("(climseg_run_key)"), 1u);
}
