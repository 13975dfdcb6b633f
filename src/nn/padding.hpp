// Padding modes as index mappings: a kernel asks where tap i of an axis of length n reads from,
// instead of copying the tensor into a padded one (circular longitude, reflect/zeros at poles).
#pragma once

#include <cstdint>
#include <string>

namespace climseg::nn {

// What lies beyond one edge of an axis: zeros, the other end of the axis (periodic), or the
// mirror image without repeating the edge (PyTorch's 'reflect').
enum class Pad { zeros, circular, reflect };

// Padding of a 2-D window op: amounts per axis and the mode on each axis. Rows are latitude (H),
// columns longitude (W).
struct Padding {
  int64_t h = 0, w = 0;
  Pad rows = Pad::zeros, cols = Pad::zeros;

  static Padding zeros(int64_t ph, int64_t pw) { return {ph, pw, Pad::zeros, Pad::zeros}; }
  static Padding zeros(int64_t p) { return zeros(p, p); }
  // ClimateNet's: periodic on both axes (latitude wraps too).
  static Padding circular(int64_t ph, int64_t pw) { return {ph, pw, Pad::circular, Pad::circular}; }
  static Padding circular(int64_t p) { return circular(p, p); }
  // Periodic in longitude; `poles` (zeros or reflect) beyond the first and last latitude row.
  static Padding spherical(int64_t ph, int64_t pw, Pad poles = Pad::zeros) { return {ph, pw, poles, Pad::circular}; }
  static Padding spherical(int64_t p, Pad poles = Pad::zeros) { return spherical(p, p, poles); }

  bool operator==(const Padding&) const = default;
};

std::string pad_name(Pad mode);
std::string padding_str(const Padding& p);

// Where index i (may be negative or >= n) of an axis of length n reads from, or -1 for a zero.
// Circular wraps any number of times; reflect needs -n < i < 2n - 1 (padding < n, checked when
// an op is built).
inline int64_t pad_index(int64_t i, int64_t n, Pad mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case Pad::zeros:
      return -1;
    case Pad::circular: {
      int64_t r = i % n;
      return r < 0 ? r + n : r;
    }
    case Pad::reflect:
      if (n == 1) return 0;
      return i < 0 ? -i : 2 * (n - 1) - i;
  }
  return -1;
}

}  // namespace climseg::nn
