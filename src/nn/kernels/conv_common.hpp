// What the convolution algorithms share (private to src/nn/kernels): integer helpers, the padding
// maps every plan precomputes, and the one dispatch from a run-time row count to unrolled code.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "nn/kernels/conv_ref.hpp"

namespace climseg::nn {

// Floor and ceiling of a / b for b > 0 and any sign of a.
constexpr int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
constexpr int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }
constexpr int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// [begin, end) of part t of n items split into nth nearly equal contiguous parts.
constexpr void split(int64_t n, int t, int nth, int64_t* b, int64_t* e) {
  *b = n * t / nth;
  *e = n * (t + 1) / nth;
}

// Planes per chunk handed to a thread (dynamic schedule) by the depthwise kernels: up to 8, at
// least 4 chunks per thread. Each plane is computed whole by one thread, so the results do not
// depend on who takes which; balancing matters on shared hosts, where one core often runs slower.
constexpr int plane_chunk(int64_t planes, int threads) {
  const int64_t c = planes / (4 * int64_t(threads));
  return int(c < 1 ? 1 : c > 8 ? 8 : c);
}

// The padding of a geometry as index maps, so that no kernel pads a tensor by copying it.
struct PadMaps {
  // For each kernel column kx: output columns [lo, hi) whose input column needs no mapping.
  std::vector<int64_t> interior_lo, interior_hi;
  // Input column of (kx, ox) and input row of (ky, oy), -1 for zeros.
  std::vector<int32_t> col_map, row_map;
  int64_t oh = 0, ow = 0;

  explicit PadMaps(const ConvGeom& g);
  int64_t row_at(int64_t ky, int64_t oy) const { return row_map[static_cast<size_t>(ky * oh + oy)]; }
  int64_t col_at(int64_t kx, int64_t ox) const { return col_map[static_cast<size_t>(kx * ow + ox)]; }
  int64_t lo(int64_t kx) const { return interior_lo[static_cast<size_t>(kx)]; }
  int64_t hi(int64_t kx) const { return interior_hi[static_cast<size_t>(kx)]; }
};

// Calls f(std::integral_constant<int, R>{}) with R = n for 1 <= n < Max and R = Max for n >= Max:
// kernels whose loops are unrolled per row count take the run-time count through this. Each call
// is a direct, inlined call (a table of function pointers would keep the callee's constants, such as
// the nine weights of a 3x3 kernel, out of registers: 15-25% slower measured in cache).
template <int Max, class F>
[[gnu::always_inline]] inline void with_rows(int64_t n, F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (void)((n == I + 1 || (I + 1 == Max && n >= Max) ? (f(std::integral_constant<int, I + 1>{}), true) : false) || ...);
  }
  (std::make_integer_sequence<int, Max>{});
}

}  // namespace climseg::nn
