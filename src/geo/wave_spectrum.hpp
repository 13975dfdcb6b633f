// Integral wave parameters from a directional wave spectrum (WAVEWATCH III point or field output):
// significant wave height Hs = 4 sqrt(m0), m0 = ∬ E(f, θ) df dθ.
#pragma once

#include <span>

namespace climseg::geo {

enum class DirectionUnit { radian, degree };

// E is (F, D) frequency-major: F frequencies (Hz, strictly ascending) by D directions (degrees, any
// order, distinct, covering the circle as WAVEWATCH III does). `density_per` says whether E is per
// radian (WAVEWATCH III `efth`, m2 s rad-1) or per degree (m2 s deg-1). The direction integral is
// the periodic trapezoid rule (each direction weighs half the arc to each neighbour, which for
// evenly spaced directions is 2π/D); the frequency integral is the trapezoid rule. Negative or
// non-finite densities throw Error.
double spectral_m0(std::span<const float> efth, std::span<const double> freq_hz, std::span<const double> dir_deg,
                   DirectionUnit density_per = DirectionUnit::radian);
double significant_wave_height(std::span<const float> efth, std::span<const double> freq_hz,
                               std::span<const double> dir_deg, DirectionUnit density_per = DirectionUnit::radian);

}  // namespace climseg::geo
