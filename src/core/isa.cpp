// Instruction-set levels: CPUID detection, the CLIMSEG_ISA override, the active level.
#include "core/isa.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <string_view>

#include "core/error.hpp"

namespace climseg {
namespace {

constexpr Isa kAll[] = {Isa::baseline, Isa::avx2, Isa::avx512};

// The level the compiler flags of this file imply (a native build's single kernel level).
constexpr Isa compile_time_isa() {
#if defined(__AVX512F__) && defined(__AVX512CD__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__)
  return Isa::avx512;
#elif defined(__AVX2__) && defined(__FMA__) && defined(__BMI2__)
  return Isa::avx2;
#else
  return Isa::baseline;
#endif
}

Isa detect() {
#if defined(__x86_64__)
  __builtin_cpu_init();
#if defined(__clang__)
  // (clang 14 knows the features, not the level names; every CPU with these has the rest of v3/v4.)
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
                  __builtin_cpu_supports("bmi2");
  const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vl");
#else
  // libgcc checks every feature of the level and that the OS saves the AVX / AVX-512 registers.
  const bool v3 = __builtin_cpu_supports("x86-64-v3");
  const bool v4 = v3 && __builtin_cpu_supports("x86-64-v4");
#endif
  return v4 ? Isa::avx512 : v3 ? Isa::avx2 : Isa::baseline;
#else
  return Isa::baseline;
#endif
}

#if defined(CLIMSEG_KERNEL_DISPATCH)
constexpr bool kNative = false;
#else
constexpr bool kNative = true;
#endif

bool compiled(Isa isa) { return !kNative || isa == compile_time_isa(); }

std::string names(const std::vector<Isa>& levels) {
  std::string s;
  for (Isa i : levels) s += (s.empty() ? "" : ", ") + std::string(isa_name(i));
  return s;
}

std::vector<Isa> runnable(Isa cpu, const std::vector<Isa>& compiled) {
  std::vector<Isa> v;
  for (Isa i : compiled)
    if (i <= cpu) v.push_back(i);
  return v;
}

// Why `isa` cannot run (empty: it can). `how` names where the request came from.
std::string refusal(Isa isa, std::string_view how, Isa cpu, const std::vector<Isa>& compiled, bool native) {
  bool has = false;
  for (Isa i : compiled) has = has || i == isa;
  if (!has)
    return fmt::format("{}: this build has {} kernels only{}; unset it{}", how, names(compiled),
                       native ? " (configured with -DCLIMSEG_NATIVE=ON)" : "",
                       native ? ", or rebuild without CLIMSEG_NATIVE for every level" : "");
  if (isa > cpu)
    return fmt::format("{}: this CPU supports up to {}; use {} or unset it", how, isa_description(cpu),
                       names(runnable(cpu, compiled)));
  return {};
}

// -1 until chosen.
std::atomic<int> g_active{-1};
std::atomic<bool> g_forced{false};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::baseline:
      return "baseline";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
  }
  return "?";
}

std::string isa_description(Isa isa) {
  switch (isa) {
    case Isa::baseline:
      return "baseline (x86-64-v2: SSE4.2, POPCNT)";
    case Isa::avx2:
      return "avx2 (x86-64-v3: AVX2, FMA, BMI2)";
    case Isa::avx512:
      return "avx512 (x86-64-v4: AVX-512 F, CD, BW, DQ, VL)";
  }
  return "?";
}

Isa cpu_isa() {
  static const Isa isa = detect();
  return isa;
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__)
  static const bool has = cpu_isa() == Isa::avx512 && __builtin_cpu_supports("avx512bf16");
  return has;
#else
  return false;
#endif
}

std::vector<Isa> compiled_isas() {
  std::vector<Isa> v;
  for (Isa i : kAll)
    if (compiled(i)) v.push_back(i);
  return v;
}

std::vector<Isa> runnable_isas() { return runnable(cpu_isa(), compiled_isas()); }

Isa choose_isa(const char* env, Isa cpu, const std::vector<Isa>& compiled, bool native) {
  const std::vector<Isa> ok = runnable(cpu, compiled);
  if (!env || !*env) return ok.empty() ? compiled.front() : ok.back();
  const std::string_view s(env);
  for (Isa i : kAll)
    if (s == isa_name(i)) {
      if (std::string why = refusal(i, fmt::format("CLIMSEG_ISA={}", s), cpu, compiled, native); !why.empty())
        throw UsageError(why);
      return i;
    }
  fail_usage("CLIMSEG_ISA={}: not a level; use {} (or unset it for this CPU's best)", s, names(ok));
}

Isa active_isa() {
  const int a = g_active.load(std::memory_order_acquire);
  if (a >= 0) return static_cast<Isa>(a);
  const char* env = std::getenv("CLIMSEG_ISA");
  const Isa chosen = choose_isa(env, cpu_isa(), compiled_isas(), kNative);
  int expected = -1;
  if (g_active.compare_exchange_strong(expected, static_cast<int>(chosen), std::memory_order_acq_rel))
    g_forced.store(env && *env);
  return static_cast<Isa>(g_active.load(std::memory_order_acquire));
}

bool isa_forced() {
  active_isa();
  return g_forced.load();
}

void require_isa(Isa isa) {
  const std::string why =
      refusal(isa, fmt::format("kernel level {}", isa_name(isa)), cpu_isa(), compiled_isas(), kNative);
  if (!why.empty()) throw UsageError(why);
}

Isa set_active_isa(Isa isa) {
  require_isa(isa);
  const Isa previous = active_isa();
  g_active.store(static_cast<int>(isa), std::memory_order_release);
  return previous;
}

}  // namespace climseg
