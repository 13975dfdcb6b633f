// Small SIMD helpers shared by the depthwise kernel files (per-level kernel files only, see
// kernel_set.hpp).
#pragma once

#include <cstdint>

#if !defined(CLIMSEG_KERNEL_NS)
#error "simd_util.hpp belongs to the per-level kernel files (kernel_set.hpp)"
#endif

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define CLIMSEG_INLINE inline __attribute__((always_inline))

namespace climseg::nn::CLIMSEG_KERNEL_NS {

#if defined(__AVX512F__)
// Adds each of the k vector sums to acc[k], its 16 lanes in lane order, and zeroes the vector: the
// weight gradients' periodic flush from float lanes to double.
CLIMSEG_INLINE void flush_lanes(__m512* v, double* acc, int64_t k) {
  alignas(64) float lanes[16];
  for (int64_t t = 0; t < k; ++t) {
    _mm512_store_ps(lanes, v[t]);  // (_mm512_reduce_add_ps trips -Wmaybe-uninitialized in GCC 12)
    float sum = 0;
    for (int l = 0; l < 16; ++l) sum += lanes[l];
    acc[t] += sum;
    v[t] = _mm512_setzero_ps();
  }
}
#endif

}  // namespace climseg::nn::CLIMSEG_KERNEL_NS
