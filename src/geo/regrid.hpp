// Regridding between lat-lon grids: periodic longitude by Fourier (trigonometric) interpolation with
// FFTW, latitude by linear or area-conservative interpolation; nearest neighbour for class masks.
// So a model trained at 1 degree (192x288) can run on 0.25 degree output (768x1152) and back.
#pragma once

#include <cstdint>
#include <memory>

#include "core/tensor.hpp"
#include "geo/grid.hpp"

namespace climseg::geo {

enum class LatInterp {
  linear,        // between the two nearest source rows; rows outside the source take the edge row
  conservative,  // overlap of cell bands in sin(latitude): area means are kept exactly
};

class Regridder {
 public:
  // Longitude: Fourier interpolation when both grids are periodic with uniform spacing (exact for
  // fields with no wavenumber above the smaller grid's Nyquist; downsampling truncates the spectrum,
  // so nothing aliases); otherwise linear (periodic wrap when the source is global).
  Regridder(const Grid& source, const Grid& target, LatInterp lat = LatInterp::linear);
  ~Regridder();
  Regridder(const Regridder&) = delete;
  Regridder& operator=(const Regridder&) = delete;

  const Grid& source() const;
  const Grid& target() const;
  bool fourier_longitude() const;

  // One field: in (Hs, Ws) → out (Hd, Wd).
  void apply(const float* in, float* out) const;
  // (..., Hs, Ws) → (..., Hd, Wd); leading dimensions (channels, batch) in parallel.
  Tensor apply(const Tensor& in) const;
  // Class ids and other categorical fields: the nearest source cell (no new values appear).
  void apply_nearest(const float* in, float* out) const;
  Tensor apply_nearest(const Tensor& in) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace climseg::geo
