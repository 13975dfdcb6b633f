// Convolution precision: names, parsing, and whether this machine runs it.
#include "nn/precision.hpp"

#include "core/error.hpp"
#include "core/isa.hpp"

namespace climseg::nn {

const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

Precision parse_precision(const std::string& s, const char* option) {
  if (s == "fp32") return Precision::fp32;
  if (s == "bf16") return Precision::bf16;
  fail_usage("{} {}: use fp32 or bf16", option, s);
}

void require_precision(Precision p) {
  if (p != Precision::bf16) return;
  if (!cpu_has_avx512_bf16())
    fail_usage("--precision bf16 needs a CPU with AVX512-BF16 (this one runs up to {}); use fp32",
               isa_description(cpu_isa()));
  if (active_isa() != Isa::avx512)
    fail_usage("--precision bf16 needs the avx512 kernels, CLIMSEG_ISA chose {}; use fp32 or unset CLIMSEG_ISA",
               isa_name(active_isa()));
}

}  // namespace climseg::nn
