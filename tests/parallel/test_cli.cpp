// `climseg bench allreduce` under mpiexec, end to end through apps/main.cpp: it reports the three
// modes, and a rank that throws mid-run (--fail-rank) ends the whole job with its message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.hpp"

using namespace climseg;

namespace {
test::RunResult run_mpi(const std::string& args) {
  return test::run_command(std::string("timeout 120 ") + CLIMSEG_MPIEXEC + " " + CLIMSEG_MPIEXEC_FLAGS + " -n 2 " +
                           test::climseg_exe().string() + " --threads 1 --no-progress bench allreduce " + args);
}
}  // namespace

TEST(BenchAllreduceCli, ReportsMessagesAndTheThreeModes) {
  test::RunResult r = run_mpi("--grid 32x48 --batch 1 --steps 2 --sizes 4096 --sizes 65536");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int messages = 0, fits = 0;
  std::vector<std::string> modes;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("ranks"), 2);
    if (j.at("kind") == "message") {
      ++messages;
      EXPECT_GT(j.at("seconds").get<double>(), 0.0);
    } else if (j.at("kind") == "fit") {
      ++fits;
    } else if (j.at("kind") == "step") {
      modes.push_back(j.at("mode"));
      EXPECT_EQ(j.at("parameters"), 494232);  // ClimateNet's CGNet
      EXPECT_EQ(j.at("gradient_bytes").get<int64_t>() % 4, 0);
      EXPECT_GE(j.at("exposed_s").get<double>(), 0.0);
      EXPECT_GE(j.at("imbalance_s").get<double>(), 0.0);
      EXPECT_GT(j.at("comm_s").get<double>(), 0.0);
      EXPECT_GT(j.at("step_s").get<double>(), j.at("forward_s").get<double>());
    }
  }
  EXPECT_EQ(messages, 2);
  EXPECT_EQ(fits, 1);
  EXPECT_EQ(modes, (std::vector<std::string>{"overlap", "overlap-no-hook-progress", "after-backward"}));
}

TEST(BenchAllreduceCli, ARankThatThrowsEndsTheJob) {
  test::RunResult r = run_mpi("--grid 32x48 --batch 1 --steps 3 --sizes 4096 --fail-rank 1 --fail-step 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "the job hung until the timeout";
  EXPECT_NE(r.err.find("climseg: error: [rank 1/2] injected failure at step 1"), std::string::npos) << r.err;
}

TEST(BenchAllreduceCli, RefusesBadArguments) {
  test::RunResult r = run_mpi("--grid 30x48 --fail-rank 5");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--fail-rank 5"), std::string::npos) << r.err;
}
