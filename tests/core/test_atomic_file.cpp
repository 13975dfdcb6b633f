// Atomic outputs: the final name appears only on commit, and a failed write leaves nothing behind.
#include <gtest/gtest.h>

#include <fstream>

#include "core/atomic_file.hpp"
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
