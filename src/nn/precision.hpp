// The arithmetic of the convolutions: fp32 throughout, or bf16 inputs with fp32 sums (AVX512-BF16).
#pragma once

#include <cstdint>
#include <string>

#include "core/enum_names.hpp"

namespace climseg::nn {

enum class Precision { fp32, bf16 };

// In a graph set to bf16 (Graph::set_precision), the GEMM convolutions whose reduction
// (cin/groups x kh x kw) is at least this long run in bf16, the others in fp32. Measured on
// ClimateNet's CGNet at 768x1152 (docs/engine.md): with every GEMM convolution in bf16 the largest
// probability difference to fp32 was 0.022, above issue 20's 2e-2, the 32-channel level-1
// convolutions (k 288) and the 1x1 reductions (k 128, 256) carrying it; with these in fp32, 0.008.
inline constexpr int64_t kBf16MinReduction = 320;

// "fp32", "bf16".
const char* precision_name(Precision p);
// Parses a --precision value; throws UsageError naming `option` and the accepted values.
Precision parse_precision(const std::string& s, const char* option = "--precision");
// Throws UsageError with one line when this CPU or kernel level cannot run `p` (bf16 needs
// AVX512-BF16 and the avx512 kernels).
void require_precision(Precision p);

}  // namespace climseg::nn

template <>
struct climseg::config::EnumTable<climseg::nn::Precision> {
  static constexpr std::pair<const char*, nn::Precision> names[] = {{"fp32", nn::Precision::fp32},
                                                                    {"bf16", nn::Precision::bf16}};
};
