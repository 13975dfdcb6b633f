// Atomic outputs: the final name appears only on commit, and a failed write leaves nothing behind.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <csignal>
#include <cstdlib>
#include <fstream>

#include "core/atomic_file.hpp"
#include "core/crash_note.hpp"
#include "core/error.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using climseg::test::TempDir;

static int count_entries(const fs::path& dir) {
  int n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicOutput, FinalNameAppearsOnlyOnCommit) {
  TempDir dir;
  fs::path target = dir / "out.txt";
  {
    climseg::AtomicOutput out(target);
    std::ofstream(out.temp_path()) << "hello";
    EXPECT_FALSE(fs::exists(target));
    EXPECT_EQ(out.temp_path().parent_path(), target.parent_path());
    out.commit();
  }
  EXPECT_EQ(climseg::read_file(target), "hello");
  EXPECT_EQ(count_entries(dir.path()), 1);
}

TEST(AtomicOutput, UncommittedOutputIsRemovedAndOldFileSurvives) {
  TempDir dir;
  fs::path target = dir / "ckpt.h5";
  climseg::write_file_atomically(target, "old");
  try {
    climseg::AtomicOutput out(target);
    std::ofstream(out.temp_path()) << "half-written";
    throw std::runtime_error("simulated failure while writing");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(climseg::read_file(target), "old");
  EXPECT_EQ(count_entries(dir.path()), 1);
}

TEST(AtomicOutput, MissingDirectoryIsAClearError) {
  TempDir dir;
  try {
    climseg::AtomicOutput out(dir / "no" / "such" / "dir" / "x.nc");
    FAIL() << "expected an error";
  } catch (const climseg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("output directory does not exist"), std::string::npos) << e.what();
  }
}

// Issue 16: a file where a folder of the path should be is named (it said "output directory does
// not exist" for a path under a file).
TEST(AtomicOutput, AFileInThePathIsNamed) {
  TempDir dir;
  { std::ofstream(dir / "plain") << "x"; }
  try {
    climseg::AtomicOutput out(dir / "plain" / "sub" / "x.png");
    FAIL() << "expected an error";
  } catch (const climseg::Error& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "plain" / "sub" / "x.png").string() + ": " + (dir / "plain").string() +
                                         " is a file, not a directory");
  }
  EXPECT_EQ(climseg::file_in_the_way(dir / "plain" / "a" / "b"), dir / "plain");
  EXPECT_EQ(climseg::file_in_the_way(dir / "no" / "such"), fs::path());
  EXPECT_EQ(climseg::file_in_the_way(dir.path()), fs::path());
}

TEST(ReadFile, NamesTheMissingFile) {
  try {
    climseg::read_file("/nonexistent/config.json");
    FAIL();
  } catch (const climseg::Error& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/config.json: no such file");
  }
}

// ------------------------------------------------------------------ fatal signals (crash_note.hpp)
// A library crash inside a noted call is one error line naming the file and exit 1; any other
// fatal signal still kills the process with that signal; both remove pending temporary outputs.

namespace {
// Pending temporary of an uncommitted output, then the fatal signal `crash` raises.
template <class Crash>
[[noreturn]] void die_with_pending_output(const fs::path& target, Crash&& crash) {
  climseg::install_crash_handlers("");
  climseg::AtomicOutput out(target);
  std::ofstream(out.temp_path()) << "half-written";
  crash();
  std::_Exit(3);  // not reached when the handler works
}
// A page that faults when written (a real SIGSEGV, which no sanitizer check intercepts first, as
// UBSan does a store through null).
volatile int* fault_address() {
  void* p = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<volatile int*>(p);
}
}  // namespace

TEST(CrashNote, LibraryCrashInsideANoteIsOneLineNamingTheFileAndExit1) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  const fs::path target = dir / "mask.nc";
  EXPECT_EXIT(die_with_pending_output(target,
                                      [] {
                                        climseg::LibraryCrashNote note("/data/era5/q_2019.nc", "opening it");
                                        std::raise(SIGSEGV);
                                      }),
              testing::ExitedWithCode(1),
              "^climseg: error: /data/era5/q_2019.nc: damaged: the HDF5 library crashed with signal 11 "
              "\\(Segmentation fault\\) while opening it; check the file with ncdump or h5dump, and replace it or "
              "leave it out of the inputs\n$");
  EXPECT_EQ(count_entries(dir.path()), 0) << "the pending temporary output was left behind";
  // A real fault (not a raised signal), an abort, and the rank prefix of a multi-rank job.
  EXPECT_EXIT(
      {
        climseg::install_crash_handlers("[rank 2/4] ");
        climseg::LibraryCrashNote note("x.nc", "reading PSL");
        *fault_address() = 1;
      },
      testing::ExitedWithCode(1),
      "^climseg: error: \\[rank 2/4\\] x.nc: damaged: .* with signal 11 .* while reading PSL; ");
  EXPECT_EXIT(
      {
        climseg::install_crash_handlers("");
        climseg::LibraryCrashNote note("y.nc", "opening it");
        std::abort();
      },
      testing::ExitedWithCode(1), "^climseg: error: y.nc: damaged: .* with signal 6 \\(Aborted\\) while opening it; ");
}

TEST(CrashNote, OtherFatalSignalsStillKillWithTheSignal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  const fs::path target = dir / "mask.nc";
  // No note: the signal's own death (a core dump where enabled), the temporary removed all the same.
  EXPECT_EXIT(die_with_pending_output(target, [] { std::raise(SIGABRT); }), testing::KilledBySignal(SIGABRT), "");
  EXPECT_EQ(count_entries(dir.path()), 0) << "the pending temporary output was left behind";
  // A note that has ended no longer speaks; nested notes keep the outer file.
  EXPECT_EXIT(
      {
        climseg::install_crash_handlers("");
        { climseg::LibraryCrashNote note("z.nc", "opening it"); }
        std::raise(SIGABRT);
      },
      testing::KilledBySignal(SIGABRT), "");
  EXPECT_EXIT(
      {
        climseg::install_crash_handlers("");
        climseg::LibraryCrashNote outer("outer.nc", "opening it");
        { climseg::LibraryCrashNote inner("inner.nc", "reading T"); }
        climseg::LibraryCrashNote again("again.nc", "reading U");
        std::raise(SIGBUS);
      },
      testing::ExitedWithCode(1), "^climseg: error: outer.nc: damaged: .* signal 7 \\(Bus error\\) while opening it; ");
}
