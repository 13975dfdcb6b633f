// The climseg command itself: help, version, usage errors and their exit codes.
#include <gtest/gtest.h>

#include "test_support.hpp"

using climseg::test::run_climseg;

TEST(Cli, HelpListsSubcommandsAndExitsZero) {
  auto r = run_climseg("--help");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("inspect"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << r.out;
}

TEST(Cli, SubcommandHelp) {
  auto r = run_climseg("inspect --help");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--json"), std::string::npos) << r.out;
}

TEST(Cli, VersionNamesCompiledFeatures) {
  auto r = run_climseg("--version");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* word : {"climseg 0.", "git ", "MPI:", "parallel NetCDF:  yes", "OpenBLAS core:", "build",
                           "kernels ISA:", "compiled for:"})
    EXPECT_NE(r.out.find(word), std::string::npos) << "missing '" << word << "' in\n" << r.out;
}

TEST(Cli, UnknownOptionIsAUsageErrorWithOneLine) {
  auto r = run_climseg("inspect --no-such-flag x.nc");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("climseg: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, UnknownSubcommandIsAUsageError) {
  auto r = run_climseg("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("climseg: error:"), std::string::npos) << r.err;
}

TEST(Cli, MissingRequiredArgumentIsAUsageError) {
  auto r = run_climseg("inspect");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("files is required"), std::string::npos) << r.err;
}

TEST(Cli, BadThreadCountIsAUsageError) {
  auto r = run_climseg("--threads -3 inspect x.nc");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}
