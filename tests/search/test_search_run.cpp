// Searches that train (serially, tiny CGNet on a 24x36 archive): successive halving stopped after
// three jobs and rerun ends with the same table as an uninterrupted search, promotes the best of each
// rung, and its best trial's metric equals a straight training of that configuration to the same
// steps; failed trials (diverged, or throwing) are recorded and the search goes on; bad configs
// are usage errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "../training/tiny_archive.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "models/search/search.hpp"
#include "models/training/trainer.hpp"
#include "search_test_util.hpp"
#include "test_support.hpp"

using namespace climseg;
using namespace climseg::search;
using nlohmann::json;
namespace fs = std::filesystem;
using climseg::test::lines_of;
using climseg::test::table_without_timing;

namespace {

json base_train(const std::vector<std::string>& files) {
  return {{"data", {{"train", files}, {"val_fraction", 0.25}}},  // 12 training samples, 4 validate
          {"model", {{"type", "cgnet"}, {"M", 1}, {"N", 2}}},
          {"optimizer", {{"type", "adam"}, {"lr", 0.003}}},
          {"epochs", 3},  // 6 steps per epoch: the schedule spans 18 steps
          {"batch_size", 2},
          {"seed", 3},
          {"log_every", 100}};
}

bool is_png(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in && std::string(magic + 1, 3) == "PNG";
}

class SearchRun : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "data");
    files_ = test::write_tiny_archive(dir_ / "data", 2, 8, 24, 36);
  }
  SearchConfig halving(const std::string& out) {
    json j = {
        {"train", base_train(files_)},
        {"space",
         {{"optimizer.lr", {{"log_uniform", {3e-4, 3e-2}}}},
          {"loss.class_weights", {{"choices", {"none", "frequency^-0.125"}}}}}},
        {"strategy",
         {{"kind", "successive_halving"}, {"trials", 4}, {"min_steps", 2}, {"max_steps", 8}, {"eta", 2}, {"seed", 21}}},
        {"out_dir", (dir_ / out).string()}};
    return SearchConfig::from_json(j, dir_.path());
  }
  test::TempDir dir_;
  std::vector<std::string> files_;
};

}  // namespace

TEST_F(SearchRun, HalvingStoppedAndRerunMatchesAnUninterruptedSearch) {
  const SearchConfig straight_cfg = halving("straight");
  SearchSummary a = run_search(straight_cfg, Comm::world());
  ASSERT_TRUE(a.complete);
  EXPECT_EQ(a.trials, 4);
  EXPECT_EQ(a.jobs_done, 7);  // 4 trials to 2 steps, 2 to 4, 1 to 8
  EXPECT_EQ(a.failed, 0);
  EXPECT_EQ(a.total_steps, 2 + 2 + 4 + 8);  // a promoted trial continues from its checkpoint

  // Stopped after three jobs (as if the allocation ended), then the same search again.
  const SearchConfig cfg = halving("resumed");
  SearchOptions stop;
  stop.stop_after_jobs = 3;
  SearchSummary first = run_search(cfg, Comm::world(), stop);
  EXPECT_FALSE(first.complete);
  EXPECT_EQ(first.jobs_this_run, 3);
  EXPECT_EQ(lines_of(dir_ / "resumed" / "results.jsonl"), 3);
  SearchSummary second = run_search(cfg, Comm::world());
  ASSERT_TRUE(second.complete);
  EXPECT_EQ(second.jobs_this_run, 4);  // finished jobs are not rerun
  EXPECT_EQ(lines_of(dir_ / "resumed" / "results.jsonl"), 7);
  const std::vector<json> ta = table_without_timing(a.table_jsonl), tb = table_without_timing(second.table_jsonl);
  ASSERT_EQ(ta.size(), 4u);
  EXPECT_EQ(ta, tb);
  EXPECT_EQ(a.best["trial"], second.best["trial"]);
  EXPECT_EQ(a.best["final_metric"], second.best["final_metric"]);

  // Rung 1 holds the best two of rung 0 (ties by trial id), rung 2 the best of rung 1.
  std::vector<std::pair<double, int64_t>> rung0, rung1;
  for (const json& row : ta) {
    ASSERT_TRUE(row["metric"]["2"].is_number()) << row.dump();
    rung0.emplace_back(-row["metric"]["2"].get<double>(), row["trial"].get<int64_t>());
    if (row["metric"].contains("4")) rung1.emplace_back(-row["metric"]["4"].get<double>(), row["trial"].get<int64_t>());
  }
  std::sort(rung0.begin(), rung0.end());
  std::sort(rung1.begin(), rung1.end());
  ASSERT_EQ(rung1.size(), 2u);
  std::vector<int64_t> promoted = {rung1[0].second, rung1[1].second}, top2 = {rung0[0].second, rung0[1].second};
  std::sort(promoted.begin(), promoted.end());
  std::sort(top2.begin(), top2.end());
  EXPECT_EQ(promoted, top2);
  const int64_t winner = rung1[0].second;
  ASSERT_EQ(a.best["trial"], winner);
  EXPECT_EQ(a.best["status"], "completed");
  EXPECT_EQ(a.best["steps"], 8);
  for (const json& row : ta) EXPECT_EQ(row["status"], row["trial"] == winner ? "completed" : "pruned") << row.dump();

  // The winner's metric after rungs of 2, 4 and 8 steps (two resumptions) equals a straight
  // training of its configuration to 8 steps.
  json doc = straight_cfg.train;
  apply_values(doc, straight_cfg.space.sample(21, winner));
  doc["checkpoint_dir"] = (dir_ / "reference").string();
  doc["max_steps"] = 8;
  training::TrainResult ref = training::train(training::TrainConfig::from_json(doc), Comm::world());
  EXPECT_EQ(ref.steps, 8);
  EXPECT_EQ(ref.last_validation["pixels"]["event_mean_iou"].get<double>(), a.best["final_metric"].get<double>());

  // The best model and its config at stable paths; the table and the pictures.
  EXPECT_TRUE(fs::exists(a.best_checkpoint));
  EXPECT_EQ(fs::file_size(a.best_checkpoint),
            fs::file_size(dir_ / "straight" / "trials" / fmt::format("trial-{:04}", winner) / "last.h5"));
  const json best_cfg = json::parse(read_file(a.best_config));
  EXPECT_EQ(best_cfg["checkpoint_dir"], "checkpoints");
  EXPECT_EQ(best_cfg["max_steps"], 8);
  EXPECT_EQ(best_cfg["optimizer"]["lr"], doc["optimizer"]["lr"]);
  const std::string csv = read_file(a.table_csv);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "trial,bracket,status,loss.class_weights,optimizer.lr,metric@2,metric@4,metric@8,final_metric,steps,"
            "wall_s,groups,message");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  for (const char* png : {"metric_vs_optimizer_lr.png", "metric_vs_loss_class_weights.png", "rungs.png"})
    EXPECT_TRUE(is_png(dir_ / "straight" / "plots" / png)) << png;
}

TEST_F(SearchRun, FailedTrialsAreRecordedAndTheSearchGoesOn) {
  json base = base_train(files_);
  base["max_bad_steps"] = 0;
  json j = {{"train", base},
            {"space", {{"optimizer.lr", {{"choices", {0.003, 1e38, 0.001}}}}}},
            {"strategy", {{"kind", "grid"}, {"steps", 3}}},
            {"out_dir", (dir_ / "failing").string()}};
  SearchConfig cfg = SearchConfig::from_json(j, dir_.path());
  SearchOptions options;
  options.before_job = [](const Job& job) {
    if (job.trial == 2) throw Error("injected failure");
  };
  SearchSummary s = run_search(cfg, Comm::world(), options);
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.failed, 2);
  ASSERT_FALSE(s.best.is_null());
  EXPECT_EQ(s.best["trial"], 0);
  const std::vector<json> rows = table_without_timing(s.table_jsonl);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["status"], "completed");
  EXPECT_TRUE(rows[0]["final_metric"].is_number());
  EXPECT_EQ(rows[1]["status"], "failed");  // a learning rate of 1e38 makes the loss NaN
  EXPECT_NE(rows[1]["message"].get<std::string>().find("diverged"), std::string::npos) << rows[1].dump();
  EXPECT_TRUE(rows[1]["final_metric"].is_null());
  EXPECT_EQ(rows[2]["status"], "failed");
  EXPECT_EQ(rows[2]["message"], "injected failure");
  // A rerun finds everything done: nothing is retried.
  SearchSummary again = run_search(cfg, Comm::world());
  EXPECT_EQ(again.jobs_this_run, 0);
  EXPECT_EQ(table_without_timing(again.table_jsonl), rows);
}

TEST_F(SearchRun, ConfigErrorsAreUsageErrors) {
  json base = base_train(files_);
  json j = {{"train", base},
            {"space", {{"optimizer.lrr", {{"uniform", {0.001, 0.01}}}}}},
            {"strategy", {{"kind", "random"}, {"trials", 2}, {"steps", 2}}}};
  try {
    SearchConfig::from_json(j, dir_.path());
    FAIL() << "a misspelt key was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer.lrr"), std::string::npos) << e.what();
  }
  j["space"] = {{"optimizer.lr", {{"uniform", {0.001, 0.01}}}}};
  j["group_size"] = 2;
  j["out_dir"] = (dir_ / "groups").string();
  EXPECT_THROW(run_search(SearchConfig::from_json(j, dir_.path()), Comm::world()), UsageError);  // 1 rank
  // An out_dir that holds another search is refused rather than mixed.
  j["group_size"] = 1;
  j["strategy"]["steps"] = 1;
  j["strategy"]["trials"] = 1;
  run_search(SearchConfig::from_json(j, dir_.path()), Comm::world());
  j["strategy"]["seed"] = 2;
  EXPECT_THROW(run_search(SearchConfig::from_json(j, dir_.path()), Comm::world()), UsageError);
  j["train"] = "missing.json";
  EXPECT_THROW(SearchConfig::from_json(j, dir_.path()), UsageError);
}
