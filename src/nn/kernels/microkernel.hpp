// The AVX-512 register-blocked GEMM microkernel behind the convolutions: C (MR x 16*NV) (+)= A B over
// a reduction of length kc, all accumulators in zmm registers. A is either packed (MR values per k,
// contiguous) or read in place as MR rows with a row stride; B rows are 16*NV contiguous floats with
// a row stride. Column edges use AVX-512 masks (no reads or writes beyond nr_valid).
#pragma once

#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace climseg::nn::mk {

#if defined(__AVX512F__)
constexpr bool kAvx512 = true;

inline __mmask16 lane_mask(int valid) {
  return valid >= 16 ? __mmask16(0xffff) : (valid <= 0 ? __mmask16(0) : __mmask16((1u << valid) - 1u));
}

// PACKED: A(i, k) = a[k * MR + i]. Otherwise A(i, k) = a[i * rs + k * ks]; rows i >= mr_valid read
// row mr_valid - 1 (computed, never stored), so A needs only mr_valid valid rows.
template <int MR, int NV, bool PACKED>
inline void kernel(int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t ldb, float* c,
                   int64_t ldc, int mr_valid, int nr_valid, bool accumulate) {
  __m512 acc[MR][NV];
  __mmask16 m[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) m[j] = lane_mask(nr_valid - 16 * j);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();
  if constexpr (PACKED) {
    for (int64_t k = 0; k < kc; ++k) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) bv[j] = _mm512_maskz_loadu_ps(m[j], b + j * 16);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512 av = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
      }
      a += MR;
      b += ldb;
    }
  } else {
    const float* ap[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) ap[i] = a + (i < mr_valid ? i : mr_valid - 1) * rs;
    for (int64_t k = 0; k < kc; ++k) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) bv[j] = _mm512_maskz_loadu_ps(m[j], b + j * 16);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512 av = _mm512_set1_ps(ap[i][k * ks]);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
      }
      b += ldb;
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= mr_valid) break;
    float* cr = c + i * ldc;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      __m512 v = acc[i][j];
      if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m[j], cr + j * 16));
      _mm512_mask_storeu_ps(cr + j * 16, m[j], v);
    }
  }
}

#else
constexpr bool kAvx512 = false;

// Portable fallback with the same contract (builds without -march=native); the compiler vectorises it.
template <int MR, int NV, bool PACKED>
inline void kernel(int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t ldb, float* c,
                   int64_t ldc, int mr_valid, int nr_valid, bool accumulate) {
  constexpr int NR = 16 * NV;
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* br = b + k * ldb;
    for (int i = 0; i < MR; ++i) {
      const int ii = i < mr_valid ? i : mr_valid - 1;
      const float av = PACKED ? a[k * MR + i] : a[ii * rs + k * ks];
      for (int j = 0; j < nr_valid && j < NR; ++j) acc[i][j] += av * br[j];
    }
  }
  for (int i = 0; i < mr_valid && i < MR; ++i)
    for (int j = 0; j < nr_valid && j < NR; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}
#endif

}  // namespace climseg::nn::mk
