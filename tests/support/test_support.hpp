// Shared helpers for tests: where the real data and the climseg binary are, temporary folders,
// and running the CLI.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace climseg::test {

// ../shared/data (or $CLIMSEG_SHARED_DATA); empty when absent.
std::filesystem::path shared_data();
// shared_data()/real/<name>; calls GTEST_SKIP via the macro below when absent.
std::filesystem::path real_file(const std::string& name);
// tests/data in the source tree.
std::filesystem::path test_data();
// The built climseg executable.
std::filesystem::path climseg_exe();

// A fresh directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a shell command line (through /bin/sh), capturing stdout and stderr.
RunResult run_command(const std::string& command_line);
// "mpiexec <CLIMSEG_MPIEXEC_FLAGS> -n <ranks>": the one launcher line of the tests, to be followed by
// the program and its arguments.
std::string mpiexec(int ranks);
// Runs `climseg ARGS`.
RunResult run_climseg(const std::string& args);

// Rows of a CSV file as column-name -> text maps (plain cells: no quoted commas).
std::vector<std::map<std::string, std::string>> read_csv(const std::filesystem::path& path);

}  // namespace climseg::test

#define CLIMSEG_REQUIRE_SHARED_DATA()                                                               \
  do {                                                                                              \
    if (::climseg::test::shared_data().empty())                                                     \
      GTEST_SKIP() << "../shared/data not found (set CLIMSEG_SHARED_DATA): real-data test skipped"; \
  } while (0)

// Tests that force a lower kernel level with CLIMSEG_ISA need the run-time dispatch build: one
// configured with -DCLIMSEG_NATIVE=ON has this machine's level only and refuses the others.
#if defined(CLIMSEG_KERNEL_DISPATCH)
#define CLIMSEG_HAS_KERNEL_DISPATCH 1
#else
#define CLIMSEG_HAS_KERNEL_DISPATCH 0
#endif
#define CLIMSEG_REQUIRE_KERNEL_DISPATCH()                                                           \
  do {                                                                                              \
    if (!CLIMSEG_HAS_KERNEL_DISPATCH)                                                               \
      GTEST_SKIP() << "a -DCLIMSEG_NATIVE=ON build has one kernel level: CLIMSEG_ISA test skipped"; \
  } while (0)
