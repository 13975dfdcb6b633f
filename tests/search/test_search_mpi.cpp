// A search over groups of 2 ranks (1 group on 2 ranks, 2 groups on 4): every trial's metric in the
// gathered table equals a training of that trial's configuration run separately on a group of 2;
// with two groups both train; a trial that throws on one rank of its group is recorded as failed
// by the whole group and the search completes.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "../training/tiny_archive.hpp"
#include "core/error.hpp"
#include "models/search/search.hpp"
#include "models/training/trainer.hpp"
#include "shared_dir.hpp"
#include "test_support.hpp"

using namespace climseg;
using namespace climseg::search;
using nlohmann::json;
namespace fs = std::filesystem;

TEST(SearchMpi, GroupsOfTwoTrainTrialsAndTheTableGathersTheirResults) {
  const Comm world = Comm::world();
  ASSERT_EQ(world.size() % 2, 0);
  test::SharedDir dir(world);
  std::string joined;
  if (world.is_root()) {
    fs::create_directories(dir.path / "data");
    auto files = test::write_tiny_archive(dir.path / "data", 2, 8, 24, 36);
    joined = files[0] + "\n" + files[1];
  }
  world.broadcast(joined);
  const std::vector<std::string> files = {joined.substr(0, joined.find('\n')), joined.substr(joined.find('\n') + 1)};

  json train = {{"data", {{"train", files}, {"val_fraction", 0.25}}},
                {"model", {{"type", "cgnet"}, {"M", 1}, {"N", 2}}},
                {"epochs", 4},
                {"batch_size", 1},
                {"seed", 9},
                {"log_every", 100},
                {"distributed", {{"check_every", 1}}}};
  json j = {{"train", train},
            {"space", {{"optimizer.lr", {{"log_uniform", {1e-3, 1e-2}}}}}},
            {"strategy", {{"kind", "random"}, {"trials", 5}, {"steps", 3}, {"seed", 5}}},
            {"group_size", 2},
            {"out_dir", (dir.path / "search").string()}};
  const SearchConfig cfg = SearchConfig::from_json(j, dir.path);
  SearchOptions options;
  options.before_job = [&](const Job& job) {
    if (job.trial == 3 && world.rank() % 2 == 1) throw Error("injected failure on one rank");
  };
  const SearchSummary s = run_search(cfg, world, options);
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.trials, 5);
  EXPECT_EQ(s.failed, 1);

  // References: each trial trained on its own by group 0 (world ranks 0 and 1).
  const OwnedComm pair = world.split(world.rank() / 2, world.rank());
  std::map<int64_t, double> reference;
  if (world.rank() < 2) {
    for (int64_t t = 0; t < 5; ++t) {
      if (t == 3) continue;
      json doc = cfg.train;
      apply_values(doc, cfg.space.sample(5, t));
      doc["checkpoint_dir"] = (dir.path / fmt::format("reference-{}", t)).string();
      doc["max_steps"] = 3;
      training::TrainResult r = training::train(training::TrainConfig::from_json(doc), pair);
      reference[t] = r.last_validation["pixels"]["event_mean_iou"].get<double>();
    }
  }
  world.barrier();

  if (world.is_root()) {
    std::ifstream in(s.table_jsonl);
    std::string line;
    std::set<int64_t> groups;
    int rows = 0;
    while (std::getline(in, line)) {
      const json row = json::parse(line);
      const int64_t t = row["trial"].get<int64_t>();
      ++rows;
      for (const json& g : row["groups"]) groups.insert(g.get<int64_t>());
      if (t == 3) {
        EXPECT_EQ(row["status"], "failed");
        EXPECT_EQ(row["message"], "[group rank 1] injected failure on one rank");
        continue;
      }
      EXPECT_EQ(row["status"], "completed") << row.dump();
      EXPECT_EQ(row["steps"], 3);
      EXPECT_DOUBLE_EQ(row["values"]["optimizer.lr"].get<double>(),
                       cfg.space.sample(5, t)["optimizer.lr"].get<double>());
      // Bit-identical: the same configuration on a group of the same size computes the same.
      EXPECT_EQ(row["final_metric"].get<double>(), reference[t]) << "trial " << t;
    }
    EXPECT_EQ(rows, 5);
    const int n_groups = world.size() / 2;
    EXPECT_EQ(static_cast<int>(groups.size()), n_groups) << "every group trained";
  }

  // Group sizes that do not divide the ranks are refused on every rank.
  json odd = j;
  odd["group_size"] = 3;
  odd["out_dir"] = (dir.path / "odd").string();
  if (world.size() % 3 != 0) {
    EXPECT_THROW(run_search(SearchConfig::from_json(odd, dir.path), world), UsageError);
  }
}
