// The kernels of one instruction-set level, and the registry that hands them out (private to
// src/nn). Every *_kernels.cpp file in this folder is compiled once per level (src/nn/CMakeLists.txt)
// with that level's -march, CLIMSEG_KERNEL_NS defined to isa_<level> and -fno-weak: its functions
// live in climseg::nn::isa_<level>, and any inline or template function it emits out of line (a
// standard-library helper the optimiser did not inline) stays local to it, so the linker can never
// hand a copy compiled for AVX-512 to baseline code. Everything else is compiled for the baseline
// (tests/nn/check_isa.py disassembles the binary to prove it).
#pragma once

#include "core/isa.hpp"

namespace climseg::nn {

struct GemmKernels;
struct GemmBf16Kernels;
struct DepthwiseKernels;
struct RowGroupKernels;
struct OpsKernels;

struct KernelSet {
  Isa isa;
  const GemmKernels* gemm;
  const DepthwiseKernels* depthwise;
  const RowGroupKernels* rowgroups;  // null below avx512
  const GemmBf16Kernels* gemm_bf16;  // null below avx512; runs only where the CPU has AVX512-BF16
  const OpsKernels* ops;
};

// The kernels of a level this build has and this CPU runs (throws UsageError otherwise).
const KernelSet& kernel_set(Isa isa);
// The kernels of the active level (core/isa.hpp: chosen once, CLIMSEG_ISA may force a lower one).
inline const KernelSet& kernel_set() { return kernel_set(active_isa()); }

}  // namespace climseg::nn

// Inside a per-level kernel file: its level's namespace and the table it defines.
#if defined(CLIMSEG_KERNEL_NS)
namespace climseg::nn::CLIMSEG_KERNEL_NS {
extern const GemmKernels gemm_kernels;
extern const DepthwiseKernels depthwise_kernels;
extern const RowGroupKernels rowgroup_kernels;   // defined at avx512 only
extern const GemmBf16Kernels gemm_bf16_kernels;  // defined at avx512 only
extern const OpsKernels ops_kernels;
extern const KernelSet kernels;
}  // namespace climseg::nn::CLIMSEG_KERNEL_NS
#endif
