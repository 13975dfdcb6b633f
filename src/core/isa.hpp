// Instruction-set levels of the dispatched kernels (src/nn/kernels): which levels this build has,
// which this CPU can run (CPUID), and the one that runs — chosen once, the highest the CPU can run
// unless CLIMSEG_ISA forces a lower one. Everything outside the kernels is compiled for the baseline.
#pragma once

#include <string>
#include <vector>

namespace climseg {

// The x86-64 psABI micro-architecture levels: baseline = x86-64-v2 (SSE4.2, POPCNT; every x86-64
// server since 2009), avx2 = x86-64-v3 (AVX2, FMA, BMI2; since 2013-2015), avx512 = x86-64-v4
// (AVX-512 F, CD, BW, DQ, VL). A build with -DCLIMSEG_NATIVE=ON has one level only: the one its
// -march=native implies. Other architectures have the baseline only (their compiler's default).
enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

// "baseline", "avx2", "avx512".
const char* isa_name(Isa isa);
// The level with the instructions it adds, e.g. "avx2 (x86-64-v3: AVX2, FMA, BMI2)".
std::string isa_description(Isa isa);
// The highest level this CPU and its operating system support (CPUID, XSAVE state), detected once.
Isa cpu_isa();
// Whether this CPU has AVX512-BF16 (vdpbf16ps) on top of avx512: the bf16 convolutions need it.
bool cpu_has_avx512_bf16();
// The levels this build has kernels for, lowest first.
std::vector<Isa> compiled_isas();
// The compiled levels this CPU can run, lowest first: what the tests run the kernels at.
std::vector<Isa> runnable_isas();
// Throws UsageError with one line when this build lacks `isa` or this CPU cannot run it.
void require_isa(Isa isa);
// The level the kernels run at: chosen at the first call (from CLIMSEG_ISA, else the highest
// runnable) and kept. A CLIMSEG_ISA that names no level, one above this CPU's or one this build
// lacks throws UsageError with one line naming it and what to use instead.
Isa active_isa();
// Whether CLIMSEG_ISA chose the active level (for --version and bench output).
bool isa_forced();
// The rule behind active_isa(): the level CLIMSEG_ISA=`env` selects (null or empty: unset, the
// highest of `compiled` up to `cpu`) on a CPU whose highest level is `cpu`, in a build with kernels
// at `compiled` (lowest first); `native` says the build is -DCLIMSEG_NATIVE=ON. Throws UsageError
// with one line naming CLIMSEG_ISA and what to use instead.
Isa choose_isa(const char* env, Isa cpu, const std::vector<Isa>& compiled, bool native);
// Tests only: makes `isa` the active level for kernels planned from now on (throws UsageError
// when this CPU cannot run it or the build lacks it). Returns the previous level.
Isa set_active_isa(Isa isa);

// Sets the active level for its lifetime (tests that run the same checks at every level).
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : previous_(set_active_isa(isa)) {}
  ~ScopedIsa() { set_active_isa(previous_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa previous_;
};

}  // namespace climseg
