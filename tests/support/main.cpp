// main() for the tests that are not MPI jobs: the thread count the CLI would choose
// (set_num_threads(0): CLIMSEG_NUM_THREADS, which ctest sets to 1, else OMP_NUM_THREADS, else this
// process's share of the cores), not OpenMP's default of every core. ctest runs tests side by side:
// with every test process's parallel regions on every core, their teams spun against each other.
#include <gtest/gtest.h>

#include "core/threads.hpp"

int main(int argc, char** argv) {
  climseg::set_num_threads(0);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
