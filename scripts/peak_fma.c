// The arithmetic peak of this machine's cores, for the roofline figures of docs/benchmarks.md:
// 12 independent chains of 512-bit FMAs (fp32) and of vdpbf16ps (bf16 pairs, fp32 sums) per thread,
// on 1 thread and on 2 (OpenMP). Not part of the build; run it where nothing else runs:
//   gcc -O2 -fopenmp scripts/peak_fma.c -o /tmp/peak_fma && /tmp/peak_fma
// A CPU without AVX512-BF16 faults on the bf16 half (SIGILL), after printing the fp32 figures.
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// GFLOP/s of one thread: 2 flops per FMA lane, 4 per vdpbf16ps lane (two products, two sums).
__attribute__((target("avx512f,avx512bf16"))) static double run(int bf16) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_setzero_ps();
  const __m512 x = _mm512_set1_ps(1e-9f), y = _mm512_set1_ps(1.0f);
  const __m512bh xb = (__m512bh)_mm512_set1_epi16(0x3f80), yb = (__m512bh)_mm512_set1_epi16(0x3000);
  const long n = 200000000;
  const double t0 = now();
  if (!bf16) {
    for (long i = 0; i < n; ++i)
#pragma GCC unroll 12
      for (int j = 0; j < 12; ++j) acc[j] = _mm512_fmadd_ps(x, y, acc[j]);
  } else {
    for (long i = 0; i < n; ++i)
#pragma GCC unroll 12
      for (int j = 0; j < 12; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], xb, yb);
  }
  const double t = now() - t0;
  float s = 0;
  for (int i = 0; i < 12; ++i) s += _mm512_reduce_add_ps(acc[i]);
  if (s == 1234.5f) printf(" ");  // keeps the chains alive
  return (double)n * 12 * 16 * 2 * (bf16 ? 2 : 1) / t / 1e9;
}

int main(void) {
  for (int bf16 = 0; bf16 < 2; ++bf16) {
    const char* what = bf16 ? "bf16 (vdpbf16ps)" : "fp32 (vfmadd)";
    printf("%s, 1 thread: %.1f GFLOP/s\n", what, run(bf16));
    fflush(stdout);
    double total = 0;
#pragma omp parallel num_threads(2) reduction(+ : total)
    total += run(bf16);
    printf("%s, 2 threads: %.1f GFLOP/s\n", what, total);
    fflush(stdout);
  }
  return 0;
}
