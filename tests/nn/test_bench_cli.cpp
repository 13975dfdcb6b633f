// `climseg bench ops` as a user runs it: JSON lines with the documented keys (the kernels' ISA level
// among them, CLIMSEG_ISA forcing a lower one), usage errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.hpp"

namespace {

using climseg::test::run_climseg;

TEST(BenchOpsCli, PrintsOneJsonObjectPerOpAndPass) {
  auto r = run_climseg(
      "--threads 1 bench ops --filter '4x32x96x144,4x128x96x144 k3 s1 d2,4x128x96x144 k3 s1 d4' --repeat 1 --quick "
      "--no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int rows = 0, memory_rows = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    for (const char* key : {"op", "shape", "pass", "algo", "seconds", "roof_fraction", "threads", "blas_core", "bound",
                            "roofline_fraction", "isa"})
      EXPECT_TRUE(j.contains(key)) << key << " missing in " << line;
    // The binding roof is the slower of the two, so its fraction is at least the named roof's.
    EXPECT_GE(j["roofline_fraction"].get<double>(), j["roof_fraction"].get<double>() - 1e-12) << line;
    EXPECT_GT(j["seconds"].get<double>(), 0.0);
    const std::string op = j["op"];
    if (op == "conv2d") {
      EXPECT_GT(j["gflops"].get<double>(), 0.0) << line;
      EXPECT_GT(j["sgemm_gflops"].get<double>(), 0.0) << line;
    } else {
      EXPECT_GT(j["gbytes_per_s"].get<double>(), 0.0) << line;
      EXPECT_GT(j["copy_gbs"].get<double>(), 0.0) << line;
      ++memory_rows;
    }
    EXPECT_TRUE(j["pass"] == "fwd" || j["pass"] == "fwd+bwd") << line;
    ++rows;
  }
  // one convolution and two depthwise (d2, d4), each fwd and fwd+bwd
  EXPECT_EQ(rows, 6) << r.out;
  EXPECT_EQ(memory_rows, 4) << r.out;
}

// CLIMSEG_ISA forces the kernels' level: the JSON says which, and the depthwise convolutions leave
// the AVX-512 row groups for the ring of padded rows below avx512.
TEST(BenchOpsCli, ClimsegIsaForcesAndNamesTheKernelLevel) {
  const std::string filter = "--threads 1 bench ops --filter '4x128x96x144 k3 s1 d2' --repeat 1 --quick --no-progress";
  for (const char* level : {"avx2", "baseline"}) {
    auto r = climseg::test::run_command(std::string("env CLIMSEG_ISA=") + level + " " +
                                        climseg::test::climseg_exe().string() + " " + filter);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    int rows = 0;
    for (std::string line; std::getline(lines, line); ++rows) {
      auto j = nlohmann::json::parse(line);
      EXPECT_EQ(j["isa"], level) << line;
      EXPECT_NE(j["algo"].get<std::string>().find("[depthwise-direct]"), std::string::npos) << line;
    }
    EXPECT_EQ(rows, 2) << r.out;  // fwd and fwd+bwd
  }
  auto top = run_climseg(filter);
  ASSERT_EQ(top.exit_code, 0) << top.err;
  auto j = nlohmann::json::parse(top.out.substr(0, top.out.find('\n')));
  EXPECT_TRUE(j["isa"] == "avx512" || j["isa"] == "avx2" || j["isa"] == "baseline") << top.out;
  if (j["isa"] == "avx512") {
    EXPECT_NE(j["algo"].get<std::string>().find("[depthwise-rowgroups]"), std::string::npos) << top.out;
  }
  auto bad =
      climseg::test::run_command("env CLIMSEG_ISA=avx1024 " + climseg::test::climseg_exe().string() + " --version");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err,
            "climseg: error: CLIMSEG_ISA=avx1024: not a level; use baseline, avx2, avx512 (or unset it for this "
            "CPU's best)\n")
      << "(on a CPU without AVX-512 the list is shorter)";
}

TEST(BenchOpsCli, UnknownFilterIsAUsageError) {
  auto r = run_climseg("bench ops --filter no-such-op");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no op matches"), std::string::npos) << r.err;
  auto h = run_climseg("bench ops --help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--peer"), std::string::npos) << h.out;
}

}  // namespace
