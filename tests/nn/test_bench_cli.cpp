// `climseg bench ops` and `bench archive` as a user runs them: JSON lines with the documented keys (the
// kernels' ISA level among them, CLIMSEG_ISA forcing a lower one), usage errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
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
  CLIMSEG_REQUIRE_KERNEL_DISPATCH();
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

// bench predict --precision: bf16 says so in the JSON where the CPU has AVX512-BF16; refused with
// one line (exit 2) under CLIMSEG_ISA=avx2, with --peer (PyTorch runs fp32), and for an unknown value.
TEST(BenchPredictCli, PrecisionIsReportedOrRefusedWithOneLine) {
  CLIMSEG_REQUIRE_KERNEL_DISPATCH();
  const std::string cmd = "bench predict --grid 32x48 --steps 1 --roofline quick --precision bf16";
  auto r = run_climseg("--threads 1 " + cmd);
  if (r.exit_code == 2) {
    EXPECT_NE(r.err.find("AVX512-BF16"), std::string::npos) << r.err;  // a CPU without it
  } else {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["precision"], "bf16") << r.out;
    EXPECT_EQ(j["isa"], "avx512") << r.out;
    EXPECT_NE(j["roofline"]["roofs"].get<std::string>().find("bf16 run"), std::string::npos) << r.out;
  }
  auto fp32 = run_climseg("--threads 1 bench predict --grid 32x48 --steps 1 --roofline off");
  ASSERT_EQ(fp32.exit_code, 0) << fp32.err;
  EXPECT_EQ(nlohmann::json::parse(fp32.out)["precision"], "fp32") << fp32.out;
  for (const std::string& bad :
       {"env CLIMSEG_ISA=avx2 " + climseg::test::climseg_exe().string() + " " + cmd,
        climseg::test::climseg_exe().string() + " " + cmd + " --peer",
        climseg::test::climseg_exe().string() + " bench predict --grid 32x48 --steps 1 --precision fp16"}) {
    auto b = climseg::test::run_command(bad);
    EXPECT_EQ(b.exit_code, 2) << bad << ": " << b.err;
    EXPECT_NE(b.err.find("--precision"), std::string::npos) << bad << ": " << b.err;
    EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << bad << ": " << b.err;
    EXPECT_TRUE(b.out.empty()) << bad << ": " << b.out;
  }
}

// bench train/predict --roofline: the JSON's roofline is the sum of its ops' roofline times (each
// max(flops / compute roof, bytes / copy roof) with the roofs it prints), its fraction that sum over
// the median step, the top ops those that lose most; a text summary goes to stderr.
TEST(BenchTrainCli, RooflineSumsItsOpsAgainstTheRoofs) {
  for (const std::string kind : {"train", "predict"}) {
    auto r = run_climseg("--threads 1 bench " + kind + " --grid 32x48 --batch 2 --steps 2 --roofline quick");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_TRUE(j.contains("roofline")) << r.out;
    const auto& rl = j["roofline"];
    for (const char* key : {"compute_roof_gflops", "copy_roof_gbs", "roofs", "seconds", "measured_s", "fraction",
                            "ops_s", "other_s", "by_kind", "top", "ops"})
      EXPECT_TRUE(rl.contains(key)) << key;
    EXPECT_NE(rl["roofs"].get<std::string>().find("fp32"), std::string::npos);
    const double sgemm = rl["compute_roof_gflops"], copy = rl["copy_roof_gbs"];
    EXPECT_GT(sgemm, 0.0);
    EXPECT_GT(copy, 0.0);
    double roof = 0, measured = 0, max_lost = -1e30;
    std::map<std::string, int> passes;
    int convs = 0;
    for (const auto& o : rl["ops"]) {
      const double flops = o["flops"], bytes = o["bytes"], t = o["roofline_s"];
      EXPECT_NEAR(t, std::max(flops / (sgemm * 1e9), bytes / (copy * 1e9)), 1e-12 * (1 + t)) << o.dump();
      EXPECT_NEAR(o["lost_s"].get<double>(), o["seconds"].get<double>() - t, 1e-12) << o.dump();
      roof += t;
      measured += o["seconds"].get<double>();
      max_lost = std::max(max_lost, o["lost_s"].get<double>());
      ++passes[o["pass"].get<std::string>()];
      // every convolution of CGNet is counted as bench ops counts its case (the shape says so)
      if (o["kind"] == "conv2d" || o["kind"] == "depthwise") {
        ++convs;
        EXPECT_NE(o["shape"].get<std::string>().find(" k"), std::string::npos) << o.dump();
        EXPECT_GT(flops, 0.0) << o.dump();
      }
    }
    EXPECT_GT(convs, 20);
    EXPECT_NEAR(rl["seconds"].get<double>(), roof, 1e-9 * roof);
    EXPECT_EQ(rl["measured_s"].get<double>(), j["median_s"].get<double>());
    EXPECT_NEAR(rl["fraction"].get<double>(), roof / j["median_s"].get<double>(), 1e-9);
    EXPECT_NEAR(rl["ops_s"].get<double>(), measured, 1e-9);
    EXPECT_NEAR(rl["other_s"].get<double>(), j["median_s"].get<double>() - measured, 1e-9);
    ASSERT_EQ(rl["top"].size(), 5u);
    EXPECT_EQ(rl["top"][0]["lost_s"].get<double>(), max_lost);
    for (size_t i = 1; i < 5; ++i) EXPECT_GE(rl["top"][i - 1]["lost_s"], rl["top"][i]["lost_s"]);
    double kinds = 0;
    for (const auto& k : rl["by_kind"]) kinds += k["roofline_s"].get<double>();
    EXPECT_NEAR(kinds, roof, 1e-9 * roof);
    if (kind == "train") {
      EXPECT_EQ(passes["update"], 1) << "Adam's update";
      EXPECT_GT(passes["bwd"], passes["fwd"] / 2);  // not the input's pooling (no gradient)
      EXPECT_LT(passes["bwd"], passes["fwd"]);
    } else {
      EXPECT_EQ(passes.size(), 1u) << "prediction is forward only";
    }
    EXPECT_NE(r.err.find("roofline: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("ops losing most"), std::string::npos) << r.err;
  }
  auto off = run_climseg("--threads 1 bench predict --grid 32x48 --steps 1 --roofline off");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_FALSE(nlohmann::json::parse(off.out).contains("roofline"));
  auto bad = run_climseg("bench predict --grid 32x48 --steps 1 --roofline some");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--roofline"), std::string::npos) << bad.err;
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

// `climseg bench archive` on a tiny archive: one JSON object per job with the documented keys, the
// split (setup + exposed reading + compute + exposed writing) adding up to the wall time, and the
// same figures with --overlap and --no-overlap. The predict job needs ClimateNet's weights (../shared/data).
TEST(BenchArchiveCli, EachJobSplitsItsWallTime) {
  const bool weights = !climseg::test::shared_data().empty();
  if (!weights) std::cerr << "../shared/data not found: bench archive runs the label jobs only\n";
  for (const char* overlap : {" --overlap", " --no-overlap"}) {
    auto r = run_climseg(std::string("--threads 2 bench archive --grid 32x48 --files 2 --steps-per-file 2 --json") +
                         (weights ? " --jobs predict tc tc,ar" : " --jobs tc tc,ar") + overlap);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    int rows = 0;
    for (std::string line; std::getline(lines, line); ++rows) {
      auto j = nlohmann::json::parse(line);
      for (const char* key : {"bench",
                              "job",
                              "grid",
                              "steps",
                              "files",
                              "ranks",
                              "threads",
                              "overlap",
                              "wall_s",
                              "wall_s_per_step",
                              "core_s",
                              "core_s_per_step",
                              "read_s",
                              "read_exposed_s",
                              "compute_s",
                              "write_s",
                              "write_exposed_s",
                              "setup_s",
                              "split_s",
                              "io_hidden_fraction",
                              "steady_s_per_step",
                              "isa"})
        EXPECT_TRUE(j.contains(key)) << key << " missing in " << line;
      EXPECT_EQ(j["bench"], "archive");
      EXPECT_EQ(j["grid"], "32x48");
      EXPECT_EQ(j["steps"], 4);
      EXPECT_EQ(j["files"], 2);
      EXPECT_EQ(j["overlap"], std::string(overlap) == " --overlap") << line;
      EXPECT_EQ(j["overlap_mode"], std::string(overlap) == " --overlap" ? "on" : "off") << line;
      const double wall = j["wall_s"], split = j["split_s"];
      EXPECT_GT(wall, 0.0);
      EXPECT_NEAR(split, wall, 0.05 * wall + 0.05) << line;
      // Every part is a time. (Waiting for a read can exceed the read itself: the reader may wait for
      // the HDF5 lock while the writer holds it.)
      for (const char* key : {"read_s", "read_exposed_s", "compute_s", "write_s", "write_exposed_s", "setup_s"})
        EXPECT_GE(j[key].get<double>(), 0.0) << key << " in " << line;
      EXPECT_GT(j["read_s"].get<double>(), 0.0) << line;
      EXPECT_GT(j["write_s"].get<double>(), 0.0) << line;
      EXPECT_EQ(j["outputs"], 2) << line;
      const double hidden = j["io_hidden_fraction"];
      EXPECT_GE(hidden, 0.0);
      EXPECT_LE(hidden, 1.0);
      if (std::string(overlap) == " --no-overlap") {
        EXPECT_LT(hidden, 0.02) << "serial I/O cannot be hidden: " << line;
      }
    }
    EXPECT_EQ(rows, weights ? 3 : 2) << r.out;
  }
}

TEST(BenchArchiveCli, UnknownJobIsAUsageError) {
  auto r = run_climseg("bench archive --grid 32x48 --files 1 --steps-per-file 1 --jobs tc,rain");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--jobs tc,rain"), std::string::npos) << r.err;
}
