// The watchdog across ranks: odd ranks are late to a collective; the lowest waiting rank's report
// names exactly them and what they are doing, and the other waiting ranks stay quiet.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "parallel/watchdog.hpp"
#include "test_support.hpp"

using namespace climseg;

TEST(WatchdogMpi, NamesTheRanksThatAreLate) {
  Comm world = Comm::world();
  std::unique_ptr<test::TempDir> owned;
  std::string dir;
  if (world.is_root()) {
    owned = std::make_unique<test::TempDir>();
    dir = owned->path().string();
  }
  world.broadcast(dir);
  std::mutex mu;
  std::vector<parallel::StallReport> reports;
  parallel::WatchdogOptions o;
  o.timeout_s = 0.5;
  o.heartbeat_s = 0.05;
  o.directory = dir + "/heartbeats";
  o.on_report = [&](const parallel::StallReport& r) {
    std::lock_guard lock(mu);
    reports.push_back(r);
  };
  world.barrier();
  {
    parallel::Watchdog w(world, o);
    w.set_step(7);
    const bool late = world.rank() % 2 == 1;
    if (late) std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // "computing step 7"
    parallel::CollectiveScope scope("test barrier");
    world.barrier();
  }
  std::lock_guard lock(mu);
  if (world.rank() == 0) {
    ASSERT_GE(reports.size(), 1u);
    const parallel::StallReport& r = reports.front();
    std::vector<int> late, arrived;
    for (int q = 0; q < world.size(); ++q) (q % 2 ? late : arrived).push_back(q);
    EXPECT_EQ(r.arrived, arrived) << r.message();
    ASSERT_EQ(r.missing.size(), late.size()) << r.message();
    for (size_t i = 0; i < late.size(); ++i) {
      EXPECT_EQ(r.missing[i].rank, late[i]);
      EXPECT_EQ(r.missing[i].why.rfind("computing step 7 for ", 0), 0u) << r.missing[i].why;
    }
    EXPECT_EQ(r.self.collective, "test barrier");
    std::printf("%s\n", r.message().c_str());
  } else {
    // Rank 0 waits too and reports; the late ranks never waited long.
    EXPECT_TRUE(reports.empty()) << reports.front().message();
  }
  world.barrier();
}
