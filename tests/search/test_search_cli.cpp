// `climseg search` end to end: usage errors exit 2 with one line; a search killed with SIGKILL in
// the middle of a job and rerun with the same command ends with the same table as one that was
// never interrupted, and prints its summary as JSON.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "../training/tiny_archive.hpp"
#include "core/atomic_file.hpp"
#include "search_test_util.hpp"
#include "test_support.hpp"

using namespace climseg;
using nlohmann::json;
namespace fs = std::filesystem;
using climseg::test::lines_of;
using climseg::test::table_without_timing;

namespace {

class SearchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "data");
    const std::vector<std::string> files = test::write_tiny_archive(dir_ / "data", 2, 8, 24, 36);
    json train = {{"data", {{"train", files}, {"val_fraction", 0.25}}},
                  {"model", {{"type", "cgnet"}, {"M", 1}, {"N", 2}}},
                  {"epochs", 3},
                  {"batch_size", 2},
                  {"checkpoint_every", 1},  // an interrupted trial resumes from its last step
                  {"log_every", 100}};
    write_file_atomically(dir_ / "train.json", train.dump());
    json search = {
        {"train", "train.json"},
        {"space",
         {{"optimizer.lr", {{"log_uniform", {1e-3, 3e-2}}}},
          {"loss.type", {{"choices", {"cross_entropy", "jaccard"}}}}}},
        {"strategy",
         {{"kind", "successive_halving"}, {"trials", 4}, {"min_steps", 2}, {"max_steps", 8}, {"eta", 2}, {"seed", 3}}}};
    write_file_atomically(dir_ / "search.json", search.dump());
  }
  std::string args(const std::string& out) const {
    return "search --config " + (dir_ / "search.json").string() + " --out_dir " + (dir_ / out).string();
  }
  test::TempDir dir_;
};

}  // namespace

TEST_F(SearchCli, UsageErrorsExitTwoWithOneLine) {
  json bad = json::parse(read_file(dir_ / "search.json"));
  bad["strategy"]["kind"] = "bayesian";
  write_file_atomically(dir_ / "bad.json", bad.dump());
  test::RunResult r = test::run_climseg("search --config " + (dir_ / "bad.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("strategy.kind"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = test::run_climseg(args("x") + " --strategy.trials 0");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("strategy.trials"), std::string::npos) << r.err;
  r = test::run_climseg(args("x") + " --group_size 0");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(SearchCli, KilledMidJobAndRerunGivesTheSameTable) {
  test::RunResult straight = test::run_climseg("-q " + args("straight"));
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  const json summary = json::parse(straight.out);
  EXPECT_TRUE(summary["complete"].get<bool>());
  EXPECT_EQ(summary["jobs_done"], 7);

  // SIGKILL as soon as the second job has finished: the third is then being trained.
  const fs::path results = dir_ / "killed" / "results.jsonl";
  const std::string script = "'" + test::climseg_exe().string() + "' -q " + args("killed") +
                             " >/dev/null 2>&1 & p=$!; i=0; "
                             "while [ \"$(cat '" +
                             results.string() +
                             "' 2>/dev/null | wc -l)\" -lt 2 ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
                             "kill -9 $p; wait $p; echo $?";
  test::RunResult killed = test::run_command(script);
  EXPECT_NE(killed.out.find("137"), std::string::npos) << "not killed: " << killed.out << killed.err;
  const int64_t before = lines_of(results);
  EXPECT_GE(before, 2);
  EXPECT_LT(before, 7);

  test::RunResult rerun = test::run_climseg("-q " + args("killed"));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  const json resumed = json::parse(rerun.out);
  EXPECT_TRUE(resumed["complete"].get<bool>());
  EXPECT_EQ(resumed["jobs_this_run"].get<int64_t>(), 7 - before);
  EXPECT_EQ(table_without_timing(dir_ / "killed" / "trials.jsonl"),
            table_without_timing(dir_ / "straight" / "trials.jsonl"));
  EXPECT_EQ(resumed["best"]["trial"], summary["best"]["trial"]);
  EXPECT_TRUE(fs::exists(dir_ / "killed" / "best" / "model.h5"));
}
