// The deterministic 4-channel input of tests/reference/nets/make_cgnet_reference.py, regenerated
// with the same float64 operations in the same order (only + - * / and max), then cast to float.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/tensor.hpp"

namespace climseg::test {

// (4, H, W): TMQ, U850, V850, PSL.
inline Tensor cgnet_synthetic_input(int64_t H, int64_t W) {
  struct Storm {
    double x0, y0, r, h;
  };
  struct River {
    double a, b, yc, half, w;
  };
  const Storm storms[] = {{0.18, -0.62, 0.035, 1.0},
                          {0.25, 0.10, 0.030, 1.0},
                          {-0.16, 0.44, 0.040, -1.0},
                          {0.12, 0.81, 0.025, 1.0},
                          {-0.22, -0.30, 0.030, -1.0}};
  const River rivers[] = {{0.55, 0.05, -0.45, 0.22, 0.025}, {-0.40, -0.55, 0.60, 0.20, 0.03}};
  Tensor out({4, H, W});
  const int64_t plane = H * W;
  for (int64_t i = 0; i < H; ++i) {
    for (int64_t j = 0; j < W; ++j) {
      // numpy computes (2i - (H-1)) / (H-1) + 0*j; adding 0.0 changes nothing but -0.0.
      const double x = (2.0 * double(i) - double(H - 1)) / double(H - 1) + 0.0 * double(j);
      const double y = (2.0 * double(j) - double(W)) / double(W) + 0.0 * double(i);
      const double c = 1.0 - x * x;
      double tmq = 55.0 * c * c * c + 5.0;
      double u = 30.0 * x * x * c - 8.0 * c;
      double v = 3.0 * c * y;
      double psl = 101325.0 - 1500.0 * x * x + 600.0 * x * x * x * x;
      for (const Storm& s : storms) {
        const double dx = x - s.x0;
        const double dy = (y - s.y0) * 2.0;
        const double g = 1.0 / (1.0 + (dx * dx + dy * dy) / (s.r * s.r));
        tmq = tmq + 25.0 * g;
        psl = psl - 4000.0 * g;
        u = u - 24.0 * s.h * dx / s.r * g * g;
        v = v + 24.0 * s.h * dy / s.r * g * g;
      }
      for (const River& r : rivers) {
        const double d = (x - (r.a * y + r.b)) / r.w;
        const double t = (y - r.yc) / r.half;
        const double along = std::max(0.0, 1.0 - t * t);
        const double ridge = along / (1.0 + d * d);
        tmq = tmq + 20.0 * ridge;
        v = v + 12.0 * ridge;
      }
      const int64_t k = i * W + j;
      out[k] = static_cast<float>(tmq);
      out[plane + k] = static_cast<float>(u);
      out[2 * plane + k] = static_cast<float>(v);
      out[3 * plane + k] = static_cast<float>(psl);
    }
  }
  return out;
}

}  // namespace climseg::test
