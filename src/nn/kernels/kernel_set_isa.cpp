// The kernel table of one ISA level (compiled once per level, see kernel_set.hpp). Every entry is an
// address constant, so the table is initialised before any code runs.
#include "nn/kernels/kernel_set.hpp"

namespace climseg::nn::CLIMSEG_KERNEL_NS {

#if defined(CLIMSEG_KERNEL_LEVEL)
constexpr Isa kLevel = Isa::CLIMSEG_KERNEL_LEVEL;
#elif defined(__AVX512F__) && defined(__AVX512CD__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__)
constexpr Isa kLevel = Isa::avx512;  // a single-level build (-DCLIMSEG_NATIVE=ON): what its flags imply
#elif defined(__AVX2__) && defined(__FMA__) && defined(__BMI2__)
constexpr Isa kLevel = Isa::avx2;
#else
constexpr Isa kLevel = Isa::baseline;
#endif

const KernelSet kernels = {
    .isa = kLevel,
    .gemm = &gemm_kernels,
    .depthwise = &depthwise_kernels,
#if defined(__AVX512F__)
    .rowgroups = &rowgroup_kernels,
    .gemm_bf16 = &gemm_bf16_kernels,
#else
    .rowgroups = nullptr,
    .gemm_bf16 = nullptr,
#endif
    .ops = &ops_kernels,
};

}  // namespace climseg::nn::CLIMSEG_KERNEL_NS
