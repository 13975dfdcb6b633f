// FFT-based Gaussian smoothing of fields on the lat-lon grid (isotropic on the sphere, in km), and
// the FFTW plumbing it shares with regridding: one planner lock, RAII plans and aligned buffers.
#pragma once

#include <fftw3.h>

#include <cstdint>
#include <memory>
#include <mutex>

#include "core/tensor.hpp"
#include "geo/grid.hpp"

namespace climseg::geo {

// FFTW's planner (plan creation and destruction) is not thread-safe; executing a plan is. Every
// plan in climseg is made and destroyed under this lock.
std::mutex& fftw_planner_mutex();

// An owned single-precision FFTW plan, destroyed under the planner lock.
class FftwPlan {
 public:
  FftwPlan() = default;
  explicit FftwPlan(fftwf_plan p) : plan_(p) {}
  ~FftwPlan();
  FftwPlan(FftwPlan&& o) noexcept : plan_(o.plan_) { o.plan_ = nullptr; }
  FftwPlan& operator=(FftwPlan&& o) noexcept;
  FftwPlan(const FftwPlan&) = delete;
  FftwPlan& operator=(const FftwPlan&) = delete;
  fftwf_plan get() const { return plan_; }
  explicit operator bool() const { return plan_ != nullptr; }

 private:
  fftwf_plan plan_ = nullptr;
};

// SIMD-aligned memory from fftwf_malloc (so new-array execution keeps the plan's alignment).
template <class T>
class FftwBuffer {
 public:
  FftwBuffer() = default;
  explicit FftwBuffer(size_t n) : n_(n), p_(static_cast<T*>(fftwf_malloc(sizeof(T) * (n ? n : 1)))) {
    if (!p_) throw std::bad_alloc();
  }
  ~FftwBuffer() {
    if (p_) fftwf_free(p_);
  }
  FftwBuffer(FftwBuffer&& o) noexcept : n_(o.n_), p_(o.p_) { o.p_ = nullptr; }
  FftwBuffer& operator=(FftwBuffer&& o) noexcept {
    std::swap(n_, o.n_);
    std::swap(p_, o.p_);
    return *this;
  }
  FftwBuffer(const FftwBuffer&) = delete;
  FftwBuffer& operator=(const FftwBuffer&) = delete;
  T* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  size_t n_ = 0;
  T* p_ = nullptr;
};

// Gaussian smoothing with standard deviation sigma_km along meridians and parallels. Longitude is
// filtered in Fourier space (exact for a periodic grid: near the poles, where a parallel is shorter
// than the kernel, a row tends to its zonal mean); latitude, and longitude of regional grids, by
// FFT convolution with zero padding, normalised by the kernel mass inside the domain so that edges
// and the poles are not darkened. Constant fields stay constant.
class GaussianSmoother {
 public:
  GaussianSmoother(const Grid& grid, double sigma_km);
  ~GaussianSmoother();
  GaussianSmoother(const GaussianSmoother&) = delete;
  GaussianSmoother& operator=(const GaussianSmoother&) = delete;

  const Grid& grid() const;
  double sigma_km() const;
  // In place: one field (H, W).
  void apply(float* field) const;
  // In place: (H, W) or (C, H, W); channels in parallel.
  void apply(Tensor& fields) const;
  // Normalised convolution for fields with holes: cells where valid == 0 do not contribute; every
  // cell gets the weighted mean of the valid cells around it (NaN where there are none).
  void apply_masked(float* field, const float* valid) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace climseg::geo
