// Regridding: Fourier interpolation along parallels (FFTW r2c, spectrum padded or truncated with a
// phase shift for the target's first longitude, c2r), then linear or conservative along meridians.
#include "geo/regrid.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <vector>

#include "core/error.hpp"
#include "geo/smooth.hpp"

namespace climseg::geo {
namespace {

bool uniform_periodic(const Grid& g) {
  if (!g.periodic || g.width() < 2) return false;
  const double step = 360.0 / double(g.width());
  for (int64_t j = 0; j < g.width(); ++j)
    if (std::abs(g.lon[size_t(j)] - g.lon[0] - step * double(j)) > 1e-6 * std::max(1.0, step)) return false;
  return true;
}

// Cell edges along latitude: halfway between centres, the outer ones half a spacing out, clamped to the poles.
std::vector<double> lat_edges(const std::vector<double>& c) {
  const size_t H = c.size();
  std::vector<double> e(H + 1);
  for (size_t i = 1; i < H; ++i) e[i] = 0.5 * (c[i - 1] + c[i]);
  e[0] = std::max(-90.0, H > 1 ? c[0] - 0.5 * (c[1] - c[0]) : c[0] - 0.5);
  e[H] = std::min(90.0, H > 1 ? c[H - 1] + 0.5 * (c[H - 1] - c[H - 2]) : c[0] + 0.5);
  return e;
}

struct Tap {
  int64_t index;
  float weight;
};

}  // namespace

struct Regridder::Impl {
  Grid src, dst;
  LatInterp mode = LatInterp::linear;
  int64_t Hs = 0, Ws = 0, Hd = 0, Wd = 0;
  bool fourier = false;
  // Fourier path: multipliers of source coefficients k = 0..nk-1 (phase shift, 1/Ws, Nyquist halving).
  int64_t nk = 0;
  std::vector<std::complex<float>> mult;
  bool dst_nyquist = false;  // the last kept coefficient is the target's Nyquist (real part, doubled)
  FftwPlan forward, backward;
  // Linear longitude path: two taps per target column.
  std::vector<std::array<Tap, 2>> lon_taps;
  // Latitude: taps per target row.
  std::vector<std::vector<Tap>> lat_taps;
  // Nearest neighbour.
  std::vector<int64_t> near_row, near_col;

  void plan_longitude() {
    fourier = uniform_periodic(src) && uniform_periodic(dst);
    // Nearest source column for every target column (periodic distance when global).
    near_col.resize(size_t(Wd));
    for (int64_t j = 0; j < Wd; ++j) {
      double best = 1e300;
      for (int64_t s = 0; s < Ws; ++s) {
        double d = std::abs(dst.lon[size_t(j)] - src.lon[size_t(s)]);
        if (src.periodic) d = std::min(d, 360.0 - std::fmod(d, 360.0));
        if (d < best) {
          best = d;
          near_col[size_t(j)] = s;
        }
      }
    }
    if (fourier) {
      const double delta = (dst.lon[0] - src.lon[0]) * kDegToRad;
      nk = std::min(Ws / 2, Wd / 2) + 1;
      mult.resize(size_t(nk));
      for (int64_t k = 0; k < nk; ++k) {
        std::complex<double> m = std::polar(1.0 / double(Ws), double(k) * delta);
        if (Ws % 2 == 0 && k == Ws / 2) m *= 0.5;  // the source's Nyquist term is split between +k and -k
        mult[size_t(k)] = std::complex<float>(m);
      }
      dst_nyquist = Wd % 2 == 0 && nk - 1 == Wd / 2;
      FftwBuffer<float> a(static_cast<size_t>(Ws)), b(static_cast<size_t>(Wd));
      FftwBuffer<fftwf_complex> sa(static_cast<size_t>(Ws / 2 + 1)), sb(static_cast<size_t>(Wd / 2 + 1));
      std::lock_guard lock(fftw_planner_mutex());
      forward = FftwPlan(fftwf_plan_dft_r2c_1d(int(Ws), a.data(), sa.data(), FFTW_ESTIMATE));
      backward = FftwPlan(fftwf_plan_dft_c2r_1d(int(Wd), sb.data(), b.data(), FFTW_ESTIMATE));
      if (!forward || !backward) fail("regrid: FFTW could not plan transforms of {} and {}", Ws, Wd);
      return;
    }
    lon_taps.resize(size_t(Wd));
    for (int64_t j = 0; j < Wd; ++j) {
      const double x = dst.lon[size_t(j)];
      std::array<Tap, 2> t{{{0, 1.0f}, {0, 0.0f}}};
      if (src.periodic) {
        // Position measured eastward from the first source longitude, in [0, 360).
        double p = std::fmod(x - src.lon[0], 360.0);
        if (p < 0) p += 360.0;
        int64_t k = int64_t(std::upper_bound(src.lon.begin(), src.lon.end(), src.lon[0] + p) - src.lon.begin()) - 1;
        k = std::clamp<int64_t>(k, 0, Ws - 1);
        const double x0 = src.lon[size_t(k)] - src.lon[0];
        const double x1 = k + 1 < Ws ? src.lon[size_t(k + 1)] - src.lon[0] : 360.0;
        const double w = x1 > x0 ? (p - x0) / (x1 - x0) : 0.0;
        t = {{{k, float(1 - w)}, {(k + 1) % Ws, float(w)}}};
      } else if (x <= src.lon.front()) {
        t = {{{0, 1.0f}, {0, 0.0f}}};
      } else if (x >= src.lon.back()) {
        t = {{{Ws - 1, 1.0f}, {Ws - 1, 0.0f}}};
      } else {
        int64_t k = int64_t(std::upper_bound(src.lon.begin(), src.lon.end(), x) - src.lon.begin()) - 1;
        const double w = (x - src.lon[size_t(k)]) / (src.lon[size_t(k + 1)] - src.lon[size_t(k)]);
        t = {{{k, float(1 - w)}, {k + 1, float(w)}}};
      }
      lon_taps[size_t(j)] = t;
    }
  }

  void plan_latitude() {
    const auto& cs = src.lat;
    near_row.resize(size_t(Hd));
    for (int64_t i = 0; i < Hd; ++i) {
      const double y = dst.lat[size_t(i)];
      auto it = std::lower_bound(cs.begin(), cs.end(), y);
      int64_t k = int64_t(it - cs.begin());
      if (k == Hs || (k > 0 && y - cs[size_t(k - 1)] <= cs[size_t(k)] - y)) --k;
      near_row[size_t(i)] = k;
    }
    lat_taps.assign(size_t(Hd), {});
    if (mode == LatInterp::linear) {
      for (int64_t i = 0; i < Hd; ++i) {
        const double y = dst.lat[size_t(i)];
        if (Hs == 1 || y <= cs.front()) {
          lat_taps[size_t(i)] = {{0, 1.0f}};
        } else if (y >= cs.back()) {
          lat_taps[size_t(i)] = {{Hs - 1, 1.0f}};
        } else {
          int64_t k = int64_t(std::upper_bound(cs.begin(), cs.end(), y) - cs.begin()) - 1;
          const double w = (y - cs[size_t(k)]) / (cs[size_t(k + 1)] - cs[size_t(k)]);
          lat_taps[size_t(i)] = {{k, float(1 - w)}, {k + 1, float(w)}};
        }
      }
      return;
    }
    // Conservative: weights are overlaps of the bands in sin(latitude) (area on the sphere).
    const std::vector<double> es = lat_edges(cs), ed = lat_edges(dst.lat);
    auto s = [](double deg) { return std::sin(deg * kDegToRad); };
    for (int64_t i = 0; i < Hd; ++i) {
      const double lo = s(ed[size_t(i)]), hi = s(ed[size_t(i + 1)]);
      double covered = 0;
      std::vector<std::pair<int64_t, double>> parts;
      for (int64_t k = 0; k < Hs; ++k) {
        const double a = std::max(lo, s(es[size_t(k)])), b = std::min(hi, s(es[size_t(k + 1)]));
        if (b > a) {
          parts.push_back({k, b - a});
          covered += b - a;
        }
      }
      if (covered <= 0) {
        lat_taps[size_t(i)] = {{near_row[size_t(i)], 1.0f}};
        continue;
      }
      for (auto& [k, w] : parts) lat_taps[size_t(i)].push_back({k, float(w / covered)});
    }
  }

  // One source row → one target-width row.
  void lon_row(const float* in, float* out, float* rin, fftwf_complex* sin_, fftwf_complex* sout, float* rout) const {
    if (!fourier) {
      for (int64_t j = 0; j < Wd; ++j) {
        const auto& t = lon_taps[size_t(j)];
        out[j] = t[0].weight * in[t[0].index] + t[1].weight * in[t[1].index];
      }
      return;
    }
    std::copy(in, in + Ws, rin);
    fftwf_execute_dft_r2c(forward.get(), rin, sin_);
    const int64_t ncd = Wd / 2 + 1;
    for (int64_t k = 0; k < ncd; ++k) sout[k][0] = sout[k][1] = 0.0f;
    for (int64_t k = 0; k < nk; ++k) {
      const std::complex<float> y = std::complex<float>(sin_[k][0], sin_[k][1]) * mult[size_t(k)];
      sout[k][0] = y.real();
      sout[k][1] = y.imag();
    }
    if (dst_nyquist) {
      sout[nk - 1][0] *= 2.0f;  // c2r counts the target's Nyquist coefficient once, real part only
      sout[nk - 1][1] = 0.0f;
    }
    sout[0][1] = 0.0f;
    fftwf_execute_dft_c2r(backward.get(), sout, rout);
    std::copy(rout, rout + Wd, out);
  }
};

Regridder::Regridder(const Grid& source, const Grid& target, LatInterp lat) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.src = source;
  m.dst = target;
  m.mode = lat;
  m.Hs = source.height();
  m.Ws = source.width();
  m.Hd = target.height();
  m.Wd = target.width();
  if (m.Hs < 1 || m.Ws < 1 || m.Hd < 1 || m.Wd < 1)
    fail("regrid: empty grid ({} to {})", source.shape_str(), target.shape_str());
  for (const Grid* g : {&source, &target}) {
    for (size_t i = 1; i < g->lat.size(); ++i)
      if (!(g->lat[i] > g->lat[i - 1])) fail("regrid: latitudes of the {} grid are not ascending", g->shape_str());
    for (size_t j = 1; j < g->lon.size(); ++j)
      if (!(g->lon[j] > g->lon[j - 1])) fail("regrid: longitudes of the {} grid are not ascending", g->shape_str());
  }
  m.plan_longitude();
  m.plan_latitude();
}

Regridder::~Regridder() = default;
const Grid& Regridder::source() const { return impl_->src; }
const Grid& Regridder::target() const { return impl_->dst; }
bool Regridder::fourier_longitude() const { return impl_->fourier; }

void Regridder::apply(const float* in, float* out) const {
  const Impl& m = *impl_;
  std::vector<float> mid(size_t(m.Hs * m.Wd));  // (Hs, Wd): every source row on the target longitudes
#pragma omp parallel
  {
    FftwBuffer<float> rin(static_cast<size_t>(m.Ws)), rout(static_cast<size_t>(m.Wd));
    FftwBuffer<fftwf_complex> sin_(static_cast<size_t>(m.Ws / 2 + 1)), sout(static_cast<size_t>(m.Wd / 2 + 1));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m.Hs; ++i)
      m.lon_row(in + i * m.Ws, mid.data() + i * m.Wd, rin.data(), sin_.data(), sout.data(), rout.data());
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m.Hd; ++i) {
      float* o = out + i * m.Wd;
      std::fill(o, o + m.Wd, 0.0f);
      for (const Tap& t : m.lat_taps[size_t(i)]) {
        const float* r = mid.data() + t.index * m.Wd;
        for (int64_t j = 0; j < m.Wd; ++j) o[j] += t.weight * r[j];
      }
    }
  }
}

void Regridder::apply_nearest(const float* in, float* out) const {
  const Impl& m = *impl_;
  for (int64_t i = 0; i < m.Hd; ++i) {
    const float* r = in + m.near_row[size_t(i)] * m.Ws;
    for (int64_t j = 0; j < m.Wd; ++j) out[i * m.Wd + j] = r[m.near_col[size_t(j)]];
  }
}

namespace {
Shape target_shape(const Tensor& in, const Grid& src, const Grid& dst) {
  if (in.ndim() < 2 || in.dim(-2) != src.height() || in.dim(-1) != src.width())
    fail("regrid: input {} does not end in the source grid {}", shape_str(in.shape()), src.shape_str());
  Shape s = in.shape();
  s[s.size() - 2] = dst.height();
  s[s.size() - 1] = dst.width();
  return s;
}
}  // namespace

Tensor Regridder::apply(const Tensor& in) const {
  Tensor out = Tensor::empty(target_shape(in, impl_->src, impl_->dst));
  const int64_t n = in.numel() / impl_->src.size();
  for (int64_t c = 0; c < n; ++c) apply(in.data() + c * impl_->src.size(), out.data() + c * impl_->dst.size());
  return out;
}

Tensor Regridder::apply_nearest(const Tensor& in) const {
  Tensor out = Tensor::empty(target_shape(in, impl_->src, impl_->dst));
  const int64_t n = in.numel() / impl_->src.size();
  for (int64_t c = 0; c < n; ++c) apply_nearest(in.data() + c * impl_->src.size(), out.data() + c * impl_->dst.size());
  return out;
}

}  // namespace climseg::geo
