// Failure behaviour under mpiexec: a rank that throws mid-training ends the whole job with its
// message, and a rank that stops computing is named by the watchdog, which ends the job. The other
// rank waits in a collective that can never complete, so only these mechanisms can end the run;
// `timeout 60` turns a hang into exit code 124 instead of a stuck test.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>

#include "test_support.hpp"

using namespace climseg;

namespace {
struct Timed {
  test::RunResult r;
  double seconds;
};
Timed run_job(const std::string& args) {
  const auto t0 = std::chrono::steady_clock::now();
  // fmt, not a chain of std::string +: GCC 12 reports that chain as out of bounds (-Warray-bounds, a
  // false positive) once the precompiled header is in.
  test::RunResult r =
      test::run_command(fmt::format("timeout 60 {} {} {}", test::mpiexec(2), CLIMSEG_FAULT_PROGRAM, args));
  return {r, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}
}  // namespace

TEST(Fault, ARankThatThrowsEndsTheJobWithItsMessage) {
  Timed t = run_job("throw");
  EXPECT_NE(t.r.exit_code, 0);
  EXPECT_NE(t.r.exit_code, 124) << "the job hung until the timeout";
  EXPECT_NE(t.r.err.find("[rank 1/2] injected failure at step 3"), std::string::npos) << t.r.err;
  // Within seconds (start-up included); a hang would have lasted the full minute.
  EXPECT_LT(t.seconds, 30.0) << t.r.err;
}

TEST(Fault, TheWatchdogNamesAStalledRankAndEndsTheJob) {
  test::TempDir dir;
  Timed t = run_job("stall " + (dir.path() / "hb").string());
  EXPECT_NE(t.r.exit_code, 0);
  EXPECT_NE(t.r.exit_code, 124) << "the job hung until the timeout";
  EXPECT_NE(t.r.err.find("[rank 0/2] watchdog: collective 'gradient allreduce'"), std::string::npos) << t.r.err;
  EXPECT_NE(t.r.err.find("rank 1: computing step 3"), std::string::npos) << t.r.err;
  EXPECT_LT(t.seconds, 40.0) << t.r.err;
}
