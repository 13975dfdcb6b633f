// The register-blocked GEMM microkernel behind the convolutions: C (MR x 16*NV) (+)= A B over a
// reduction of length kc, all accumulators in registers. A is either packed (MR values per k,
// contiguous) or read in place as MR rows with a row stride; B rows are 16*NV contiguous floats with
// a row stride. Column edges are masked (no reads or writes beyond nr_valid). One version per ISA
// level, chosen by the flags of the kernel file that includes this (kernel_set.hpp): AVX-512 (zmm,
// mask registers), AVX2 (ymm, maskload/maskstore), SSE (the baseline) and a scalar one.
#pragma once

#include <cstdint>

#if !defined(CLIMSEG_KERNEL_NS)
#error "microkernel.hpp belongs to the per-level kernel files (kernel_set.hpp)"
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace climseg::nn::CLIMSEG_KERNEL_NS::mk {

#if defined(__AVX512F__)
constexpr bool kAvx512 = true;

inline __mmask16 lane_mask(int valid) {
  return valid >= 16 ? __mmask16(0xffff) : (valid <= 0 ? __mmask16(0) : __mmask16((1u << valid) - 1u));
}

// The register tile's set-up and write-back, shared by the microkernels of this level (fp32 and
// bf16): column masks for nr_valid columns and zeroed accumulators; C rows below mr_valid stored
// (added to C when accumulating), masked to the valid columns.
template <int MR, int NV>
[[gnu::always_inline]] inline void start_tile(__m512 (&acc)[MR][NV], __mmask16 (&m)[NV], int nr_valid) {
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) m[j] = lane_mask(nr_valid - 16 * j);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();
}
template <int MR, int NV>
[[gnu::always_inline]] inline void store_tile(const __m512 (&acc)[MR][NV], const __mmask16 (&m)[NV], float* c,
                                              int64_t ldc, int mr_valid, bool accumulate) {
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

// PACKED: A(i, k) = a[k * MR + i]. Otherwise A(i, k) = a[i * rs + k * ks]; rows i >= mr_valid read
// row mr_valid - 1 (computed, never stored), so A needs only mr_valid valid rows.
template <int MR, int NV, bool PACKED>
inline void kernel(int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t ldb, float* c,
                   int64_t ldc, int mr_valid, int nr_valid, bool accumulate) {
  __m512 acc[MR][NV];
  __mmask16 m[NV];
  start_tile<MR, NV>(acc, m, nr_valid);
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
  store_tile<MR, NV>(acc, m, c, ldc, mr_valid, accumulate);
}

// kernel<MR, NV, true> with B row k at b + off[k] (the direct convolution's taps in a band of
// input rows): the same products summed in the same order, so the same results bit for bit.
template <int MR, int NV>
inline void kernel_offsets(int64_t kc, const float* a, const float* b, const int32_t* off, float* c, int64_t ldc,
                           int mr_valid, int nr_valid, bool accumulate) {
  __m512 acc[MR][NV];
  __mmask16 m[NV];
  start_tile<MR, NV>(acc, m, nr_valid);
  for (int64_t k = 0; k < kc; ++k) {
    const float* br = b + off[k];
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = _mm512_maskz_loadu_ps(m[j], br + j * 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
    a += MR;
  }
  store_tile<MR, NV>(acc, m, c, ldc, mr_valid, accumulate);
}

// dst (cols x rows, row stride ldd) = transpose of src (rows x cols, row stride lds), by 16x16
// register blocks (masked at the edges). GCC 12 misreads the intrinsics' internal "undefined"
// operands as uninitialised here, hence the pragma.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  for (int64_t r0 = 0; r0 < rows; r0 += 16)
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const int nr = int(rows - r0 < 16 ? rows - r0 : 16), nc = int(cols - c0 < 16 ? cols - c0 : 16);
      const __mmask16 mc = lane_mask(nc), mr = lane_mask(nr);
      __m512 r[16], t[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < nr ? _mm512_maskz_loadu_ps(mc, src + (r0 + i) * lds + c0) : _mm512_setzero_ps();
      for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
      }
      for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
      }
      for (int i = 0; i < 16; i += 8)
        for (int j = 0; j < 4; ++j) {
          t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
          t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
        }
      for (int j = 0; j < 8; ++j) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
      }
      for (int i = 0; i < nc; ++i) _mm512_mask_storeu_ps(dst + (c0 + i) * ldd + r0, mr, r[i]);
    }
}
#pragma GCC diagnostic pop

#else
constexpr bool kAvx512 = false;

inline void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

// Scalar version of the contract below (other architectures, and the baseline's column edges);
// the compiler vectorises what it can.
template <int MR, int NV, bool PACKED>
inline void kernel_scalar(int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t ldb, float* c,
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

#if defined(__AVX2__) && defined(__FMA__)
// 8 floats per ymm register; column edges by maskload/maskstore.
struct Vec {
  using R = __m256;
  using M = __m256i;
  enum : int { W = 8, kMasks = 1 };  // (enumerators, not inline variables: -fno-weak)
  static R zero() { return _mm256_setzero_ps(); }
  static R bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static R load(const float* p, M m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, M m, R v) { _mm256_maskstore_ps(p, m, v); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  // Lanes [0, valid) set.
  static M mask(int valid) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};
#elif defined(__SSE2__)
// 4 floats per xmm register, no FMA (multiply, then add: the same order of sums); no masked loads,
// so blocks with column edges take the scalar kernel.
struct Vec {
  using R = __m128;
  using M = int;
  enum : int { W = 4, kMasks = 0 };
  static R zero() { return _mm_setzero_ps(); }
  static R bcast(const float* p) { return _mm_set1_ps(*p); }
  static R load(const float* p) { return _mm_loadu_ps(p); }
  static R load(const float* p, M) { return _mm_loadu_ps(p); }
  static void store(float* p, R v) { _mm_storeu_ps(p, v); }
  static void store(float* p, M, R v) { _mm_storeu_ps(p, v); }
  static R fma(R a, R b, R c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static R add(R a, R b) { return _mm_add_ps(a, b); }
  static M mask(int valid) { return valid; }
};
#endif

#if defined(__AVX2__) || defined(__SSE2__)
// Rows [i0, i0 + RB) x vectors [j0, j0 + CB) of the C block. MASKED: the vectors' lanes beyond the
// valid columns (masks m) are neither read nor written.
template <int MR, int RB, int CB, bool PACKED, bool MASKED>
inline void block(int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t ldb, float* c,
                  int64_t ldc, int i0, int j0, int mr_valid, const typename Vec::M* m, bool accumulate) {
  using R = typename Vec::R;
  constexpr int W = Vec::W;
  R acc[RB][CB];
#pragma GCC unroll 8
  for (int i = 0; i < RB; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < CB; ++j) acc[i][j] = Vec::zero();
  const float* ap[RB];
#pragma GCC unroll 8
  for (int i = 0; i < RB; ++i) ap[i] = PACKED ? a + i0 + i : a + (i0 + i < mr_valid ? i0 + i : mr_valid - 1) * rs;
  const float* bp = b + W * j0;
  for (int64_t k = 0; k < kc; ++k) {
    R bv[CB];
#pragma GCC unroll 4
    for (int j = 0; j < CB; ++j) bv[j] = MASKED ? Vec::load(bp + W * j, m[j0 + j]) : Vec::load(bp + W * j);
#pragma GCC unroll 8
    for (int i = 0; i < RB; ++i) {
      const R av = Vec::bcast(PACKED ? ap[i] + k * MR : ap[i] + k * ks);
#pragma GCC unroll 4
      for (int j = 0; j < CB; ++j) acc[i][j] = Vec::fma(av, bv[j], acc[i][j]);
    }
    bp += ldb;
  }
#pragma GCC unroll 8
  for (int i = 0; i < RB; ++i) {
    if (i0 + i >= mr_valid) break;
    float* cr = c + (i0 + i) * ldc + W * j0;
#pragma GCC unroll 4
    for (int j = 0; j < CB; ++j) {
      R v = acc[i][j];
      if (MASKED) {
        if (accumulate) v = Vec::add(v, Vec::load(cr + W * j, m[j0 + j]));
        Vec::store(cr + W * j, m[j0 + j], v);
      } else {
        if (accumulate) v = Vec::add(v, Vec::load(cr + W * j));
        Vec::store(cr + W * j, v);
      }
    }
  }
}

// The same contract as the AVX-512 kernel, on 16 ymm (AVX2) or xmm (baseline) registers: the C
// block is computed in sub-blocks of 4 rows x 3 vectors (12 accumulators: 8 x 48 blocks) or 6 rows x
// 2 vectors (12 x 32 blocks). PACKED: A(i, k) = a[k * MR + i]. Otherwise A(i, k) = a[i * rs + k * ks];
// rows i >= mr_valid read row mr_valid - 1 (computed, never stored).
template <int MR, int NV, bool PACKED>
inline void kernel(int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t ldb, float* c,
                   int64_t ldc, int mr_valid, int nr_valid, bool accumulate) {
  constexpr int W = Vec::W, NW = 16 * NV / W, CB = NW % 3 == 0 ? 3 : 2, RB = CB == 3 ? 4 : 6;
  static_assert(MR % RB == 0 && NW % CB == 0, "no sub-blocking for this microkernel shape");
  const bool masked = nr_valid < W * NW;
  if (masked && !Vec::kMasks)
    return kernel_scalar<MR, NV, PACKED>(kc, a, rs, ks, b, ldb, c, ldc, mr_valid, nr_valid, accumulate);
  typename Vec::M m[NW];
  for (int j = 0; j < NW; ++j) m[j] = Vec::mask(nr_valid - W * j);
  for (int i0 = 0; i0 < MR && i0 < mr_valid; i0 += RB)
    for (int j0 = 0; j0 < NW && W * j0 < nr_valid; j0 += CB) {
      if (masked)
        block<MR, RB, CB, PACKED, true>(kc, a, rs, ks, b, ldb, c, ldc, i0, j0, mr_valid, m, accumulate);
      else
        block<MR, RB, CB, PACKED, false>(kc, a, rs, ks, b, ldb, c, ldc, i0, j0, mr_valid, m, accumulate);
    }
}
#else
template <int MR, int NV, bool PACKED>
inline void kernel(int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t ldb, float* c,
                   int64_t ldc, int mr_valid, int nr_valid, bool accumulate) {
  kernel_scalar<MR, NV, PACKED>(kc, a, rs, ks, b, ldb, c, ldc, mr_valid, nr_valid, accumulate);
}
#endif
#endif

}  // namespace climseg::nn::CLIMSEG_KERNEL_NS::mk
