// main() for MPI tests: every rank runs every test; the job fails if any rank fails, and only
// rank 0 prints the usual report (other ranks print each failure with its test and rank).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/threads.hpp"

namespace {
// What a rank other than 0 prints: each failed assertion, named by rank and test, as it happens.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  // (The test is kept from OnTestStart: UnitTest::current_test_info() takes the lock that gtest
  // holds while it reports a part result, and would deadlock here.)
  void OnTestStart(const ::testing::TestInfo& t) override { test_ = &t; }
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "rank %d: %s.%s failed at %s:%d\n%s\n", rank_, test_ ? test_->test_suite_name() : "?",
                 test_ ? test_->name() : "?", r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
  }

 private:
  int rank_;
  const ::testing::TestInfo* test_ = nullptr;
};
}  // namespace

int main(int argc, char** argv) {
  climseg::MpiSession session(&argc, &argv, /*force=*/true);
  // The CLI's thread count (CLIMSEG_NUM_THREADS, which ctest sets to 1): OpenMP's default, every
  // core per rank, made 4 ranks on 2 cores spin against each other (a 0.6 s test took 15 s).
  climseg::set_num_threads(0);
  ::testing::InitGoogleTest(&argc, argv);
  climseg::Comm world = climseg::Comm::world();
  if (!world.is_root()) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(world.rank()));
  }
  int local = RUN_ALL_TESTS();
  const ::testing::UnitTest* unit = ::testing::UnitTest::GetInstance();
  if (!world.is_root() && unit->failed_test_count() > 0)
    std::fprintf(stderr, "rank %d: %d test(s) failed\n", world.rank(), unit->failed_test_count());
  int global = 0;
  MPI_Allreduce(&local, &global, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (world.is_root() && unit->test_to_run_count() == 0) {
    std::fprintf(stderr, "no tests ran\n");
    global = 1;
  }
  return global;
}
