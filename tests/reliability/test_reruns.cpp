// Reruns over the same archive: `climseg label` keeps complete label files (their river rows and
// counts come back from the file), redoes missing ones, and --overwrite redoes everything; the
// tables come out identical either way.
#include <gtest/gtest.h>
#include <netcdf.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "bad_input_files.hpp"
#include "models/nets/network.hpp"
#include "models/training/model_io.hpp"
#include "nn/checkpoint.hpp"
#include "test_support.hpp"

namespace climseg::test {
namespace {

namespace fs = std::filesystem;

std::string without_seconds(std::string json) {
  return std::regex_replace(json, std::regex(R"("seconds": [0-9.e+-]+)"), R"("seconds": 0)");
}

TEST(Rerun, LabelKeepsCompleteFilesAndRedoesTheRest) {
  TempDir dir;
  const fs::path archive = dir / "archive", out = dir / "labels";
  auto synth = run_climseg("synth -q --out " + archive.string() + " --grid 32x64 --steps 4 --steps-per-file 1");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const std::string label = "label --in " + archive.string() + " --out " + out.string() + " --detect tc,ar";
  auto first = run_climseg(label);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string rivers = slurp(out / "rivers.csv"), tracks = slurp(out / "tc_tracks.csv");
  const std::string summary = without_seconds(slurp(out / "label_summary.json"));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().string().ends_with(".labels.nc")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 4u);
  const auto kept_time = fs::last_write_time(files[0]);

  // One file lost (as after a kill): only it is redone, the tables are the same.
  fs::remove(files[2]);
  auto second = run_climseg(label);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("kept 3 label file(s)"), std::string::npos) << second.err;
  EXPECT_TRUE(fs::exists(files[2]));
  EXPECT_EQ(fs::last_write_time(files[0]), kept_time);
  EXPECT_EQ(slurp(out / "rivers.csv"), rivers);
  EXPECT_EQ(slurp(out / "tc_tracks.csv"), tracks);
  EXPECT_EQ(without_seconds(slurp(out / "label_summary.json")), summary);

  // --overwrite redoes all of them.
  auto third = run_climseg(label + " --overwrite");
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(third.err.find("kept"), std::string::npos) << third.err;
  EXPECT_EQ(slurp(out / "rivers.csv"), rivers);
  EXPECT_EQ(without_seconds(slurp(out / "label_summary.json")), summary);
}

// Issue 16 item 4: a rerun with other criteria redoes the label files (their run key differs) and
// the summary describes the files beside it; --no-overwrite refuses, naming the option. (Before run
// keys, the rerun kept the old masks and wrote a summary of the new criteria.)
TEST(Rerun, LabelRedoesFilesMadeWithOtherOptions) {
  TempDir dir;
  const fs::path archive = dir / "archive", out = dir / "labels";
  auto synth = run_climseg("synth -q --out " + archive.string() + " --grid 32x64 --steps 2 --steps-per-file 1 --waves");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const std::string label = "label --in " + (archive / "waves").string() + " --out " + out.string() +
                            " --detect waves --waves-min-area 0 --waves-threshold ";
  ASSERT_EQ(run_climseg(label + "2").exit_code, 0);
  auto summary_cells = [&] {
    return nlohmann::json::parse(slurp(out / "label_summary.json"))["classes"]["extreme_waves"]["cells"].get<int64_t>();
  };
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().string().ends_with(".labels.nc")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 2u);
  auto file_cells = [&] {  // extreme-wave cells in the label files themselves
    int64_t n = 0;
    for (const auto& f : files) {
      int nc = -1, var = -1;
      EXPECT_EQ(nc_open(f.c_str(), NC_NOWRITE, &nc), NC_NOERR);
      nc_inq_varid(nc, "LABELS", &var);
      std::vector<signed char> v(32 * 64);
      nc_get_var_schar(nc, var, v.data());
      nc_close(nc);
      n += std::count(v.begin(), v.end(), 3);
    }
    return n;
  };
  const int64_t low = summary_cells();
  EXPECT_GT(low, 0);
  EXPECT_EQ(file_cells(), low);

  // The same command again keeps both files.
  const auto kept_time = fs::last_write_time(files[0]);
  auto same = run_climseg(label + "2");
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.err.find("kept 2 label file(s)"), std::string::npos) << same.err;
  EXPECT_EQ(fs::last_write_time(files[0]), kept_time);

  // Another threshold: refused under --no-overwrite, naming the option; redone otherwise.
  auto refused = run_climseg(label + "3 --no-overwrite");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("--waves-threshold is 2 in it, 3 now"), std::string::npos) << refused.err;
  EXPECT_EQ(fs::last_write_time(files[0]), kept_time);
  auto redo = run_climseg(label + "3");
  ASSERT_EQ(redo.exit_code, 0) << redo.err;
  const int64_t high = summary_cells();
  EXPECT_LT(high, low);
  EXPECT_EQ(file_cells(), high) << "the summary must describe the label files beside it";
}

// A tiny U-Net on TMQ and U850 whose weights depend on `seed`.
void tiny_model(const fs::path& path, uint64_t seed) {
  nets::NetConfig c;
  c.type = "unet";
  c.params = {{"depth", 1}, {"width", 2}};
  c.channels = {"TMQ", "U850"};
  auto net = nets::make_network(c);
  nn::Parameters params(*net, seed);
  training::Normalizer norm;
  norm.channels = c.channels;
  norm.shift = {0, 0};
  norm.scale = {1, 1};
  nn::CheckpointInfo info;
  info.attributes = training::model_attributes(c, norm);
  nn::save_checkpoint(path, params, nullptr, info);
}

// Issue 16 item 4: predict with another model redoes its outputs (before run keys: "0 files
// written, 2 already complete"); --no-overwrite refuses naming the model.
TEST(Rerun, PredictRedoesOutputsOfAnotherModel) {
  TempDir dir;
  const fs::path archive = dir / "archive", out = dir / "pred";
  auto synth = run_climseg("synth -q --out " + archive.string() + " --grid 16x32 --steps 2 --steps-per-file 1");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  tiny_model(dir / "a.h5", 1);
  tiny_model(dir / "b.h5", 2);
  const std::string predict = "predict --in " + archive.string() + " --out " + out.string() + " --model ";
  auto first = run_climseg(predict + (dir / "a.h5").string());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("2 files written, 0 already complete"), std::string::npos) << first.err;
  auto again = run_climseg(predict + (dir / "a.h5").string());
  EXPECT_NE(again.err.find("0 files written, 2 already complete"), std::string::npos) << again.err;
  auto refused = run_climseg(predict + (dir / "b.h5").string() + " --no-overwrite");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("made with another model"), std::string::npos) << refused.err;
  auto other = run_climseg(predict + (dir / "b.h5").string());
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(other.err.find("2 files written, 0 already complete"), std::string::npos) << other.err;
  // Another option (probabilities) is a difference too.
  auto probs = run_climseg(predict + (dir / "b.h5").string() + " --probabilities");
  EXPECT_NE(probs.err.find("2 files written, 0 already complete"), std::string::npos) << probs.err;
}

// The text of a global attribute ("" when absent).
std::string global_text(const fs::path& path, const char* name) {
  int id = -1;
  if (nc_open(path.c_str(), NC_NOWRITE, &id) != NC_NOERR) return "";
  size_t len = 0;
  std::string text;
  if (nc_inq_attlen(id, NC_GLOBAL, name, &len) == NC_NOERR) {
    text.resize(len);
    if (nc_get_att_text(id, NC_GLOBAL, name, text.data()) != NC_NOERR) text.clear();
  }
  nc_close(id);
  return text;
}

// Issue 16 item 4 for events and stats: every output carries the run key, and the summary names
// exactly the files of its run; a rerun that writes fewer (--no-ids, --no-plots) removes the earlier
// run's id map and pictures. (Before: events_summary.nc, event_ids.nc and stats had no key, and an
// earlier run's event_ids.nc stayed beside a summary of a run without ids.)
TEST(Rerun, EventsAndStatsOutputsCarryTheirRunAndTheSummaryNamesThem) {
  TempDir dir;
  const fs::path archive = dir / "archive", out = dir / "events";
  auto synth =
      run_climseg("synth -q --out " + archive.string() + " --grid 96x144 --steps 4 --steps-per-file 2 --hours 6");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  auto listed = [&] {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(out)) names.insert(e.path().filename().string());
    return names;
  };
  auto summarised = [&] {
    const auto js = nlohmann::json::parse(slurp(out / "events_summary.json"));
    EXPECT_EQ(js.value("run_key", nlohmann::json::object()).value("command", ""), "events");
    std::set<std::string> names;
    for (const auto& n : js.value("outputs", nlohmann::json::array())) names.insert(n.get<std::string>());
    return names;
  };
  const std::string events = "--no-progress events --in " + archive.string() + " --out " + out.string();
  auto first = run_climseg(events);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_TRUE(fs::exists(out / "event_ids.nc"));
  ASSERT_TRUE(fs::exists(out / "events_summary.nc")) << "the synth archive plants cyclones";
  EXPECT_EQ(summarised(), listed());
  for (const char* nc : {"event_ids.nc", "events_summary.nc"}) {
    const auto key = nlohmann::json::parse(global_text(out / nc, "climseg_run_key").empty()
                                               ? std::string("{}")
                                               : global_text(out / nc, "climseg_run_key"));
    EXPECT_EQ(key.value("command", ""), "events") << nc;
    EXPECT_FALSE(key.value("inputs", nlohmann::json::array()).empty()) << nc;
  }
  bool pictures = false;
  for (const auto& n : listed()) pictures = pictures || n.ends_with(".png");
  EXPECT_TRUE(pictures);

  auto second = run_climseg(events + " --no-ids --no-plots --min-steps 1");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_FALSE(fs::exists(out / "event_ids.nc"));
  for (const auto& n : listed()) EXPECT_FALSE(n.ends_with(".png")) << n;
  EXPECT_EQ(summarised(), listed());
  EXPECT_NE(global_text(out / "events_summary.nc", "climseg_run_key").find("\"--min-steps\":\"1\""), std::string::npos)
      << global_text(out / "events_summary.nc", "climseg_run_key");

  // stats: the statistics file and the map carry the key; the statistics name both files.
  const fs::path js = dir / "stats.json", map = dir / "p50.nc";
  auto stats = run_climseg("--no-progress stats --in " + archive.string() + " --vars TMQ --out " + js.string() +
                           " --percentile-map 50 --out-map " + map.string());
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  const auto prov = nlohmann::json::parse(slurp(js))["provenance"];
  EXPECT_EQ(prov.value("run_key", nlohmann::json::object()).value("command", ""), "stats");
  EXPECT_EQ(prov.value("outputs", nlohmann::json::array()), nlohmann::json::array({js.string(), map.string()}));
  EXPECT_NE(global_text(map, "climseg_run_key").find("\"command\":\"stats\""), std::string::npos)
      << global_text(map, "climseg_run_key");
}

}  // namespace
}  // namespace climseg::test
