// The watchdog on one process: which ranks a stall report names (from hand-made heartbeats), the
// heartbeat file format, and the thread reporting a collective that lasts too long.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/error.hpp"
#include "parallel/watchdog.hpp"
#include "test_support.hpp"

using namespace climseg;
using parallel::RankState;

namespace {
RankState state(int rank, bool in, const std::string& name, uint64_t seq, int64_t step, double since, double written) {
  RankState s;
  s.rank = rank;
  s.host = "n" + std::to_string(rank / 2);
  s.pid = 100 + rank;
  s.in_collective = in;
  s.collective = name;
  s.sequence = seq;
  s.step = step;
  s.since = since;
  s.written = written;
  return s;
}
}  // namespace

TEST(WatchdogDiagnose, NamesTheRanksThatHaveNotArrived) {
  const double now = 1000;
  RankState me = state(0, true, "gradient allreduce", 41, 20, 940, 999);
  std::vector<std::optional<RankState>> all(6);
  all[0] = me;
  all[1] = state(1, true, "gradient allreduce", 41, 20, 941, 998);  // arrived
  all[2] = state(2, false, "", 40, 20, 925, 999);                   // still computing step 20
  all[3] = state(3, true, "parameter check", 41, 20, 950, 999);     // another collective, same position
  all[4] = state(4, true, "gradient allreduce", 41, 20, 930, 900);  // stale: silent for 100 s
  // rank 5: no file
  parallel::StallReport r = parallel::diagnose(me, all, now, 60, 30);
  EXPECT_EQ(r.arrived, (std::vector<int>{0, 1}));
  ASSERT_EQ(r.missing.size(), 4u);
  EXPECT_EQ(r.missing[0].rank, 2);
  EXPECT_EQ(r.missing[0].why, "computing step 20 for 75 s (host n1)");
  EXPECT_EQ(r.missing[1].rank, 3);
  EXPECT_NE(r.missing[1].why.find("in 'parameter check' #41"), std::string::npos) << r.missing[1].why;
  EXPECT_NE(r.missing[1].why.find("diverged"), std::string::npos) << r.missing[1].why;
  EXPECT_EQ(r.missing[2].rank, 4);
  EXPECT_NE(r.missing[2].why.find("no heartbeat for 100 s"), std::string::npos) << r.missing[2].why;
  EXPECT_EQ(r.missing[3].rank, 5);
  EXPECT_NE(r.missing[3].why.find("no heartbeat file"), std::string::npos);
  const std::string msg = r.message();
  EXPECT_NE(msg.find("collective 'gradient allreduce' #41 (step 20) has waited 60 s on rank 0"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("4 of 6 ranks have not arrived"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(WatchdogDiagnose, HeartbeatFilesRoundTrip) {
  test::TempDir dir;
  RankState s = state(17, true, "synchronised BatchNorm", 12345, 99, 1.5e9, 1.5e9 + 3);
  { std::ofstream(parallel::heartbeat_path(dir.path().string(), 17)) << parallel::to_json(s); }
  EXPECT_EQ(parallel::heartbeat_path("/x", 17), "/x/rank-000017.json");
  auto r = parallel::read_heartbeat(parallel::heartbeat_path(dir.path().string(), 17));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rank, 17);
  EXPECT_EQ(r->host, "n8");
  EXPECT_EQ(r->collective, "synchronised BatchNorm");
  EXPECT_EQ(r->sequence, 12345u);
  EXPECT_EQ(r->step, 99);
  EXPECT_DOUBLE_EQ(r->written, 1.5e9 + 3);
  EXPECT_FALSE(parallel::read_heartbeat(parallel::heartbeat_path(dir.path().string(), 3)).has_value());
  std::ofstream(parallel::heartbeat_path(dir.path().string(), 4)) << "{\"rank\": 4, tor";
  EXPECT_FALSE(parallel::read_heartbeat(parallel::heartbeat_path(dir.path().string(), 4)).has_value());
}

TEST(Watchdog, ReportsACollectiveThatLastsTooLong) {
  test::TempDir dir;
  std::mutex mu;
  std::vector<parallel::StallReport> reports;
  parallel::WatchdogOptions o;
  o.timeout_s = 0.2;
  o.heartbeat_s = 0.02;
  o.directory = (dir.path() / "hb").string();
  o.on_report = [&](const parallel::StallReport& r) {
    std::lock_guard lock(mu);
    reports.push_back(r);
  };
  {
    parallel::Watchdog w(Comm::world(), o);
    EXPECT_EQ(parallel::Watchdog::current(), &w);
    EXPECT_THROW(parallel::Watchdog(Comm::world(), o), Error);  // one per process
    w.set_step(5);
    { parallel::CollectiveScope quick("quick"); }
    {
      parallel::CollectiveScope slow("slow one");
      { parallel::CollectiveScope nested("inner"); }  // nested scopes count as the outer one
      std::this_thread::sleep_for(std::chrono::milliseconds(700));
    }
    // The heartbeat of the stall was written while it lasted.
    EXPECT_TRUE(std::filesystem::exists(parallel::heartbeat_path(o.directory, 0)));
  }
  EXPECT_EQ(parallel::Watchdog::current(), nullptr);
  EXPECT_FALSE(std::filesystem::exists(parallel::heartbeat_path(o.directory, 0)));  // removed at the end
  std::lock_guard lock(mu);
  ASSERT_GE(reports.size(), 1u);
  EXPECT_LE(reports.size(), 4u);  // again every timeout, not every poll
  EXPECT_EQ(reports[0].self.collective, "slow one");
  EXPECT_EQ(reports[0].self.sequence, 2u);
  EXPECT_EQ(reports[0].self.step, 5);
  EXPECT_GE(reports[0].waited_s, 0.2);
  EXPECT_EQ(reports[0].arrived, std::vector<int>{0});
  EXPECT_TRUE(reports[0].missing.empty());
}

TEST(Watchdog, WithoutADirectoryReportsOnlyItself) {
  std::atomic<int> n{0};
  std::string msg;
  parallel::WatchdogOptions o;
  o.timeout_s = 0.1;
  o.on_report = [&](const parallel::StallReport& r) {
    if (n++ == 0) msg = r.message();
  };
  {
    parallel::Watchdog w(Comm::world(), o);
    parallel::CollectiveScope s("gradient allreduce");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  ASSERT_GE(n.load(), 1);
  EXPECT_NE(msg.find("set CLIMSEG_WATCHDOG_DIR"), std::string::npos) << msg;
}

TEST(Watchdog, OptionsFromTheEnvironment) {
  setenv("CLIMSEG_WATCHDOG_TIMEOUT", "42", 1);
  setenv("CLIMSEG_WATCHDOG_DIR", "/tmp/hb", 1);
  auto o = parallel::watchdog_options_from_env();
  EXPECT_DOUBLE_EQ(o.timeout_s, 42);
  EXPECT_EQ(o.directory, "/tmp/hb");
  setenv("CLIMSEG_WATCHDOG_ABORT", "soon", 1);
  EXPECT_THROW(parallel::watchdog_options_from_env(), UsageError);
  unsetenv("CLIMSEG_WATCHDOG_TIMEOUT");
  unsetenv("CLIMSEG_WATCHDOG_DIR");
  unsetenv("CLIMSEG_WATCHDOG_ABORT");
  parallel::WatchdogOptions bad;
  bad.timeout_s = 0;
  EXPECT_THROW(parallel::Watchdog(Comm::world(), bad), UsageError);
}
