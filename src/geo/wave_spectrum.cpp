// Spectral moments of a directional wave spectrum.
#include "geo/wave_spectrum.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.hpp"
#include "geo/grid.hpp"

namespace climseg::geo {

double spectral_m0(std::span<const float> efth, std::span<const double> freq, std::span<const double> dir_deg,
                   DirectionUnit density_per) {
  const size_t F = freq.size(), D = dir_deg.size();
  if (F < 2 || D < 1) fail("wave spectrum: need at least 2 frequencies and 1 direction, got {} and {}", F, D);
  if (efth.size() != F * D) fail("wave spectrum: {} values for {} frequencies x {} directions", efth.size(), F, D);
  for (size_t k = 1; k < F; ++k)
    if (!(freq[k] > freq[k - 1])) fail("wave spectrum: frequencies must ascend (f[{}] = {} Hz)", k, freq[k]);

  // Direction weights: half the arc to each neighbour around the circle, in the density's unit.
  std::vector<size_t> order(D);
  std::iota(order.begin(), order.end(), 0);
  auto wrapped = [&](size_t d) { return std::fmod(std::fmod(dir_deg[d], 360.0) + 360.0, 360.0); };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return wrapped(a) < wrapped(b); });
  std::vector<double> wdir(D, D == 1 ? 360.0 : 0.0);
  for (size_t r = 0; r < D && D > 1; ++r) {
    const double here = wrapped(order[r]);
    double next = wrapped(order[(r + 1) % D]), prev = wrapped(order[(r + D - 1) % D]);
    if (r + 1 == D) next += 360.0;
    if (r == 0) prev -= 360.0;
    if (!(next > here) || !(here > prev)) fail("wave spectrum: repeated direction {} degrees", here);
    wdir[order[r]] = 0.5 * (next - prev);
  }
  const double to_unit = density_per == DirectionUnit::radian ? kDegToRad : 1.0;

  double m0 = 0.0, prev_e = 0.0;
  for (size_t k = 0; k < F; ++k) {
    double e = 0.0;  // E(f_k) = ∫ E(f_k, θ) dθ
    for (size_t d = 0; d < D; ++d) {
      const float v = efth[k * D + d];
      if (!std::isfinite(v) || v < 0) fail("wave spectrum: invalid density {} at frequency {} direction {}", v, k, d);
      e += double(v) * wdir[d] * to_unit;
    }
    if (k > 0) m0 += 0.5 * (freq[k] - freq[k - 1]) * (prev_e + e);
    prev_e = e;
  }
  return m0;
}

double significant_wave_height(std::span<const float> efth, std::span<const double> freq,
                               std::span<const double> dir_deg, DirectionUnit density_per) {
  return 4.0 * std::sqrt(spectral_m0(efth, freq, dir_deg, density_per));
}

}  // namespace climseg::geo
