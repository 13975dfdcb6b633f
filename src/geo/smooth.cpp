// Gaussian smoothing by FFT: exact periodic filtering along parallels, normalised zero-padded
// convolution along meridians (and along parallels of regional grids).
#include "geo/smooth.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "core/error.hpp"

namespace climseg::geo {

std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

FftwPlan::~FftwPlan() {
  if (plan_) {
    std::lock_guard lock(fftw_planner_mutex());
    fftwf_destroy_plan(plan_);
  }
}

FftwPlan& FftwPlan::operator=(FftwPlan&& o) noexcept {
  std::swap(plan_, o.plan_);
  return *this;
}

namespace {

// Smallest n >= m whose only prime factors are 2, 3 and 5 (fast FFT sizes).
int64_t fft_size(int64_t m) {
  for (int64_t n = std::max<int64_t>(m, 1);; ++n) {
    int64_t r = n;
    for (int64_t p : {2, 3, 5})
      while (r % p == 0) r /= p;
    if (r == 1) return n;
  }
}

// Normalised Gaussian convolution along one axis of length n, for `batch` interleaved vectors
// (element e of vector b at e * batch + b), zero padded to np so nothing wraps around.
class AxisFilter {
 public:
  AxisFilter() = default;
  AxisFilter(int64_t n, double sigma, int64_t batch) : n_(n), batch_(batch) {
    radius_ = int64_t(std::ceil(4.0 * sigma));
    np_ = fft_size(n + radius_ + 1);
    const int64_t nc = np_ / 2 + 1;
    // The transfer function of the sampled, truncated kernel (exact: the padding covers its reach).
    std::vector<double> g(size_t(radius_ + 1));
    for (int64_t d = 0; d <= radius_; ++d) g[size_t(d)] = std::exp(-0.5 * double(d * d) / (sigma * sigma));
    transfer_.resize(size_t(nc));
    for (int64_t k = 0; k < nc; ++k) {
      double t = g[0];
      for (int64_t d = 1; d <= radius_; ++d)
        t += 2.0 * g[size_t(d)] * std::cos(2.0 * kPi * double(k * d) / double(np_));
      transfer_[size_t(k)] = float(t / double(np_));  // c2r does not divide by np
    }
    // Kernel mass inside the domain at each position, to undo the darkening at the edges.
    norm_.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t d = -radius_; d <= radius_; ++d)
        if (i + d >= 0 && i + d < n) s += g[size_t(std::abs(d))];
      norm_[size_t(i)] = float(1.0 / s);
    }
    FftwBuffer<float> re(static_cast<size_t>(np_ * batch_));
    FftwBuffer<fftwf_complex> co(static_cast<size_t>(nc * batch_));
    int len = int(np_);
    std::lock_guard lock(fftw_planner_mutex());
    forward_ = FftwPlan(fftwf_plan_many_dft_r2c(1, &len, int(batch_), re.data(), nullptr, int(batch_), 1, co.data(),
                                                nullptr, int(batch_), 1, FFTW_ESTIMATE));
    backward_ = FftwPlan(fftwf_plan_many_dft_c2r(1, &len, int(batch_), co.data(), nullptr, int(batch_), 1, re.data(),
                                                 nullptr, int(batch_), 1, FFTW_ESTIMATE));
    if (!forward_ || !backward_) fail("FFTW could not plan a length-{} transform", np_);
  }
  int64_t padded() const { return np_; }
  int64_t batch() const { return batch_; }

  // In place on buf (np x batch, the first n rows holding data, the rest zero on entry).
  void run(float* buf, fftwf_complex* spec) const {
    fftwf_execute_dft_r2c(forward_.get(), buf, spec);
    const int64_t nc = np_ / 2 + 1;
    for (int64_t k = 0; k < nc; ++k) {
      const float t = transfer_[size_t(k)];
      for (int64_t b = 0; b < batch_; ++b) {
        spec[k * batch_ + b][0] *= t;
        spec[k * batch_ + b][1] *= t;
      }
    }
    fftwf_execute_dft_c2r(backward_.get(), spec, buf);
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t b = 0; b < batch_; ++b) buf[i * batch_ + b] *= norm_[size_t(i)];
  }

 private:
  int64_t n_ = 0, batch_ = 1, radius_ = 0, np_ = 1;
  std::vector<float> transfer_, norm_;
  FftwPlan forward_, backward_;
};

constexpr int64_t kColumnBatch = 32;  // meridians filtered together

}  // namespace

struct GaussianSmoother::Impl {
  Grid grid;
  double sigma_km = 0;
  int64_t H = 0, W = 0;
  bool lat_on = false, lon_on = false;
  AxisFilter lat;                   // along meridians, kColumnBatch at a time
  AxisFilter lon_regional;          // along parallels of a regional grid
  std::vector<float> lon_transfer;  // (H, W/2+1) periodic filter per row, including 1/W
  FftwPlan row_forward, row_backward;

  void apply_field(float* f) const {
    if (lat_on) {
      const int64_t nchunks = (W + kColumnBatch - 1) / kColumnBatch;
#pragma omp parallel
      {
        FftwBuffer<float> buf(static_cast<size_t>(lat.padded() * kColumnBatch));
        FftwBuffer<fftwf_complex> spec(static_cast<size_t>((lat.padded() / 2 + 1) * kColumnBatch));
#pragma omp for schedule(static)
        for (int64_t c = 0; c < nchunks; ++c) {
          const int64_t j0 = c * kColumnBatch, nj = std::min(kColumnBatch, W - j0);
          float* b = buf.data();
          std::fill(b, b + lat.padded() * kColumnBatch, 0.0f);
          for (int64_t i = 0; i < H; ++i)
            for (int64_t j = 0; j < nj; ++j) b[i * kColumnBatch + j] = f[i * W + j0 + j];
          lat.run(b, spec.data());
          for (int64_t i = 0; i < H; ++i)
            for (int64_t j = 0; j < nj; ++j) f[i * W + j0 + j] = b[i * kColumnBatch + j];
        }
      }
    }
    if (!lon_on) return;
    if (grid.periodic) {
      const int64_t nc = W / 2 + 1;
#pragma omp parallel
      {
        FftwBuffer<float> row(static_cast<size_t>(W));
        FftwBuffer<fftwf_complex> spec(static_cast<size_t>(nc));
#pragma omp for schedule(static)
        for (int64_t i = 0; i < H; ++i) {
          std::copy(f + i * W, f + (i + 1) * W, row.data());
          fftwf_execute_dft_r2c(row_forward.get(), row.data(), spec.data());
          const float* t = lon_transfer.data() + i * nc;
          for (int64_t k = 0; k < nc; ++k) {
            spec.data()[k][0] *= t[k];
            spec.data()[k][1] *= t[k];
          }
          fftwf_execute_dft_c2r(row_backward.get(), spec.data(), row.data());
          std::copy(row.data(), row.data() + W, f + i * W);
        }
      }
    } else {
#pragma omp parallel
      {
        FftwBuffer<float> buf(static_cast<size_t>(lon_regional.padded()));
        FftwBuffer<fftwf_complex> spec(static_cast<size_t>(lon_regional.padded() / 2 + 1));
#pragma omp for schedule(static)
        for (int64_t i = 0; i < H; ++i) {
          std::fill(buf.data(), buf.data() + lon_regional.padded(), 0.0f);
          std::copy(f + i * W, f + (i + 1) * W, buf.data());
          lon_regional.run(buf.data(), spec.data());
          std::copy(buf.data(), buf.data() + W, f + i * W);
        }
      }
    }
  }
};

GaussianSmoother::GaussianSmoother(const Grid& grid, double sigma_km) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (grid.height() < 1 || grid.width() < 1) fail("smoothing: empty grid {}", grid.shape_str());
  if (!(sigma_km >= 0) || !std::isfinite(sigma_km)) fail("smoothing: sigma {} km is not a length", sigma_km);
  m.grid = grid;
  m.sigma_km = sigma_km;
  m.H = grid.height();
  m.W = grid.width();
  const double r_km = kEarthRadius / 1000.0;
  // Latitude: sigma in rows from the mean spacing.
  if (m.H > 1 && sigma_km > 0) {
    const double sigma_rows = sigma_km / (r_km * std::abs(grid.dlat()) * kDegToRad);
    if (sigma_rows > 0.05) {
      m.lat = AxisFilter(m.H, sigma_rows, kColumnBatch);
      m.lat_on = true;
    }
  }
  if (m.W > 1 && sigma_km > 0) {
    const double dlon_rad = grid.dlon() * kDegToRad;
    if (grid.periodic) {
      const int64_t nc = m.W / 2 + 1;
      m.lon_transfer.resize(size_t(m.H * nc));
      for (int64_t i = 0; i < m.H; ++i) {
        const double c = std::cos(grid.lat[size_t(i)] * kDegToRad);
        // Columns per sigma on this parallel; at a pole the parallel is a point: keep the mean only.
        const double sigma_cols = c > 1e-9 ? sigma_km / (r_km * c * dlon_rad) : 1e30;
        for (int64_t k = 0; k < nc; ++k) {
          const double w = 2.0 * kPi * double(k) / double(m.W) * sigma_cols;
          m.lon_transfer[size_t(i * nc + k)] = float(std::exp(-0.5 * std::min(w * w, 1e4)) / double(m.W));
        }
      }
      FftwBuffer<float> row(static_cast<size_t>(m.W));
      FftwBuffer<fftwf_complex> spec(static_cast<size_t>(nc));
      const int n = int(m.W);
      std::lock_guard lock(fftw_planner_mutex());
      m.row_forward = FftwPlan(fftwf_plan_dft_r2c_1d(n, row.data(), spec.data(), FFTW_ESTIMATE));
      m.row_backward = FftwPlan(fftwf_plan_dft_c2r_1d(n, spec.data(), row.data(), FFTW_ESTIMATE));
      if (!m.row_forward || !m.row_backward) fail("FFTW could not plan a length-{} transform", m.W);
      m.lon_on = true;
    } else {
      // A regional grid: one sigma for all rows, from the mid-latitude of the domain.
      const double mid = 0.5 * (grid.lat.front() + grid.lat.back());
      const double sigma_cols = sigma_km / (r_km * std::max(std::cos(mid * kDegToRad), 1e-3) * dlon_rad);
      if (sigma_cols > 0.05) {
        m.lon_regional = AxisFilter(m.W, sigma_cols, 1);
        m.lon_on = true;
      }
    }
  }
}

GaussianSmoother::~GaussianSmoother() = default;

const Grid& GaussianSmoother::grid() const { return impl_->grid; }
double GaussianSmoother::sigma_km() const { return impl_->sigma_km; }

void GaussianSmoother::apply(float* field) const { impl_->apply_field(field); }

void GaussianSmoother::apply(Tensor& fields) const {
  const int64_t HW = impl_->H * impl_->W;
  if (fields.numel() % HW != 0 || fields.ndim() < 2 || fields.dim(-1) != impl_->W || fields.dim(-2) != impl_->H)
    fail("smoothing: fields {} do not match the grid {}", shape_str(fields.shape()), impl_->grid.shape_str());
  for (int64_t c = 0; c < fields.numel() / HW; ++c) impl_->apply_field(fields.data() + c * HW);
}

void GaussianSmoother::apply_masked(float* field, const float* valid) const {
  const size_t n = size_t(impl_->H * impl_->W);
  std::vector<float> weight(n);
  for (size_t k = 0; k < n; ++k) {
    const bool ok = valid[k] != 0.0f && std::isfinite(field[k]);
    weight[k] = ok ? 1.0f : 0.0f;
    field[k] = ok ? field[k] : 0.0f;
  }
  // The normalisations of both passes are the same for numerator and denominator, so they cancel.
  impl_->apply_field(field);
  impl_->apply_field(weight.data());
  for (size_t k = 0; k < n; ++k) field[k] = weight[k] > 1e-6f ? field[k] / weight[k] : NAN;
}

}  // namespace climseg::geo
