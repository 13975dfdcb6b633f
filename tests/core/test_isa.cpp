// The instruction-set level the kernels run at: CLIMSEG_ISA's rule (choose_isa) on CPUs and builds
// other than this one, and this machine's detection against /proc/cpuinfo.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "core/isa.hpp"

namespace climseg {
namespace {

const std::vector<Isa> kEvery = {Isa::baseline, Isa::avx2, Isa::avx512};

std::string refusal(const char* env, Isa cpu, const std::vector<Isa>& compiled, bool native) {
  try {
    choose_isa(env, cpu, compiled, native);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(Isa, UnsetTakesTheHighestLevelTheCpuRuns) {
  EXPECT_EQ(choose_isa(nullptr, Isa::avx512, kEvery, false), Isa::avx512);
  EXPECT_EQ(choose_isa("", Isa::avx2, kEvery, false), Isa::avx2);
  EXPECT_EQ(choose_isa(nullptr, Isa::baseline, kEvery, false), Isa::baseline);
  EXPECT_EQ(choose_isa(nullptr, Isa::avx512, {Isa::avx2}, true), Isa::avx2);  // a native build's one level
}

TEST(Isa, ForcesALowerLevel) {
  EXPECT_EQ(choose_isa("baseline", Isa::avx512, kEvery, false), Isa::baseline);
  EXPECT_EQ(choose_isa("avx2", Isa::avx512, kEvery, false), Isa::avx2);
  EXPECT_EQ(choose_isa("avx512", Isa::avx512, kEvery, false), Isa::avx512);
}

TEST(Isa, RefusesALevelAboveTheCpuWithOneLine) {
  EXPECT_EQ(refusal("avx512", Isa::avx2, kEvery, false),
            "CLIMSEG_ISA=avx512: this CPU supports up to avx2 (x86-64-v3: AVX2, FMA, BMI2); use baseline, avx2 or "
            "unset it");
  EXPECT_EQ(refusal("avx2", Isa::baseline, kEvery, false),
            "CLIMSEG_ISA=avx2: this CPU supports up to baseline (x86-64-v2: SSE4.2, POPCNT); use baseline or unset it");
}

TEST(Isa, RefusesUnknownLevelsAndLevelsTheBuildLacks) {
  EXPECT_EQ(refusal("avx512f", Isa::avx512, kEvery, false),
            "CLIMSEG_ISA=avx512f: not a level; use baseline, avx2, avx512 (or unset it for this CPU's best)");
  EXPECT_EQ(refusal("AVX2", Isa::avx2, kEvery, false),
            "CLIMSEG_ISA=AVX2: not a level; use baseline, avx2 (or unset it for this CPU's best)");
  EXPECT_EQ(refusal("baseline", Isa::avx512, {Isa::avx512}, true),
            "CLIMSEG_ISA=baseline: this build has avx512 kernels only (configured with -DCLIMSEG_NATIVE=ON); unset "
            "it, or rebuild without CLIMSEG_NATIVE for every level");
}

// CPUID as the kernel reports it: the flags of the first processor in /proc/cpuinfo.
TEST(Isa, DetectionAgreesWithProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      flags = line.substr(line.find(':') + 1) + " ";
      break;
    }
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags here";
  auto has = [&](const char* f) { return flags.find(" " + std::string(f) + " ") != std::string::npos; };
  const bool v3 = has("avx2") && has("fma") && has("bmi1") && has("bmi2") && has("f16c") && has("movbe");
  const bool v4 = v3 && has("avx512f") && has("avx512cd") && has("avx512bw") && has("avx512dq") && has("avx512vl");
  EXPECT_EQ(cpu_isa(), v4 ? Isa::avx512 : v3 ? Isa::avx2 : Isa::baseline) << flags;
  const std::vector<Isa> runnable = runnable_isas();
  ASSERT_FALSE(runnable.empty());
  EXPECT_LE(runnable.back(), cpu_isa());
}

TEST(Isa, ScopedIsaSetsAndRestoresTheActiveLevel) {
  const Isa before = active_isa();
  for (Isa isa : runnable_isas()) {
    ScopedIsa s(isa);
    EXPECT_EQ(active_isa(), isa);
  }
  EXPECT_EQ(active_isa(), before);
}

}  // namespace
}  // namespace climseg
