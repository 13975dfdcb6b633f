// The thread-count rule for hybrid MPI + OpenMP runs: the node's cores shared by the ranks on it,
// capped by the process's affinity mask, overridden by CLIMSEG_NUM_THREADS or OMP_NUM_THREADS.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "core/threads.hpp"

using namespace climseg;

namespace {

// Sets (or, with nullopt, unsets) an environment variable for the scope, then restores it.
class EnvVar {
 public:
  EnvVar(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  }
  ~EnvVar() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// This process's affinity mask and the machine's online cores, read here without the library.
int mask_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  return CPU_COUNT(&set);
}
int machine_cores() { return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)); }

}  // namespace

TEST(Threads, RuleSharesTheNodeWithinTheMask) {
  // unbound (mask = the node): the node's cores / local ranks
  EXPECT_EQ(threads_for(64, 64, 1), 64);
  EXPECT_EQ(threads_for(64, 64, 16), 4);
  EXPECT_EQ(threads_for(64, 64, 3), 21);
  // bound to one core each, or to 4 cores each: the mask
  EXPECT_EQ(threads_for(1, 64, 16), 1);
  EXPECT_EQ(threads_for(4, 64, 16), 4);
  EXPECT_EQ(threads_for(2, 64, 4), 2);
  // bound to a 32-core socket shared by 8 ranks: the fair share, not the socket
  EXPECT_EQ(threads_for(32, 64, 16), 4);
  // more ranks than cores: still one thread
  EXPECT_EQ(threads_for(2, 2, 4), 1);
  EXPECT_EQ(threads_for(2, 2, 0), 2);  // a bad count reads as one rank
}

TEST(Threads, DefaultFollowsTheEnvironment) {
  const int mask = mask_cores(), node = machine_cores();
  ASSERT_GE(mask, 1);
  ASSERT_GE(node, mask);
  EXPECT_EQ(online_cores(), node);
  EXPECT_EQ(available_cores(), mask);
  EnvVar a("CLIMSEG_NUM_THREADS", std::nullopt), b("OMP_NUM_THREADS", std::nullopt),
      c("OMPI_COMM_WORLD_LOCAL_SIZE", std::nullopt), d("SLURM_NTASKS_PER_NODE", std::nullopt);
  EXPECT_EQ(default_threads(), mask);  // one rank: every core it may use
  for (int local : {2, 3, 4, 8}) {
    SCOPED_TRACE(local);
    const int expected = std::max(1, std::min(mask, node / local));
    {
      EnvVar ompi("OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(local));
      EXPECT_EQ(default_threads(), expected);
    }
    {
      EnvVar slurm("SLURM_NTASKS_PER_NODE", std::to_string(local));
      EXPECT_EQ(default_threads(), expected);
    }
  }
  {
    // Open MPI's variable wins over Slurm's
    EnvVar ompi("OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(2 * node));
    EnvVar slurm("SLURM_NTASKS_PER_NODE", "1");
    EXPECT_EQ(default_threads(), 1);
  }
  {
    EnvVar ompi("OMPI_COMM_WORLD_LOCAL_SIZE", "not-a-number");  // ignored: one rank
    EXPECT_EQ(default_threads(), mask);
  }
  // Overrides, CLIMSEG_NUM_THREADS first, whatever the ranks per node
  EnvVar ompi("OMPI_COMM_WORLD_LOCAL_SIZE", "4");
  {
    EnvVar omp("OMP_NUM_THREADS", "5");
    EXPECT_EQ(default_threads(), 5);
    EnvVar cs("CLIMSEG_NUM_THREADS", "3");
    EXPECT_EQ(default_threads(), 3);
  }
  {
    EnvVar omp("OMP_NUM_THREADS", "0");  // not a count: the rule
    EXPECT_EQ(default_threads(), std::max(1, std::min(mask, node / 4)));
  }
}
