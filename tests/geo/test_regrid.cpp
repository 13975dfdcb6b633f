// Regridding and Gaussian smoothing against analytic answers: Fourier interpolation is exact for
// band-limited rows, linear latitude interpolation is exact for linear fields, conservative
// remapping keeps the area mean, 192x288 <-> 768x1152 round trips recover smooth fields, and the
// smoother has the transfer function and width of a Gaussian on the sphere.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "geo/regrid.hpp"
#include "geo/smooth.hpp"

using namespace climseg;
using namespace climseg::geo;

namespace {

// f(lat, lon) = (1 + 0.3 sin lat) * (cos(3 lon + 0.4) + 0.5 sin(7 lon)) + 0.2 lat: band-limited in
// longitude (wavenumbers 0, 3, 7), smooth in latitude.
double analytic(double lat, double lon) {
  const double p = lat * kDegToRad, l = lon * kDegToRad;
  return (1 + 0.3 * std::sin(p)) * (std::cos(3 * l + 0.4) + 0.5 * std::sin(7 * l)) + 0.2 * p;
}

std::vector<float> sample(const Grid& g, double (*f)(double, double)) {
  std::vector<float> v(size_t(g.size()));
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < g.width(); ++j) v[size_t(i * g.width() + j)] = float(f(g.lat[size_t(i)], g.lon[size_t(j)]));
  return v;
}

double area_mean(const Grid& g, const std::vector<float>& v) {
  auto a = g.row_areas();
  double s = 0, w = 0;
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < g.width(); ++j) {
      s += a[size_t(i)] * v[size_t(i * g.width() + j)];
      w += a[size_t(i)];
    }
  return s / w;
}

}  // namespace

TEST(Regrid, FourierInterpolationIsExactForBandLimitedRows) {
  Grid src = Grid::cam(24, 36);
  Grid dst = Grid::cam(24, 48);
  for (auto& l : dst.lon) l += 3.75;  // the target starts half a cell east
  Regridder r(src, dst);
  EXPECT_TRUE(r.fourier_longitude());
  auto in = sample(src, analytic);
  std::vector<float> out(size_t(dst.size()));
  r.apply(in.data(), out.data());
  // Same latitudes: only longitude changes, so every value is the analytic one.
  for (int64_t i = 0; i < 24; ++i)
    for (int64_t j = 0; j < 48; ++j)
      ASSERT_NEAR(out[size_t(i * 48 + j)], analytic(dst.lat[size_t(i)], dst.lon[size_t(j)]), 2e-5) << i << "," << j;
}

TEST(Regrid, DownsamplingTruncatesTheSpectrumInsteadOfAliasing) {
  Grid src = Grid::cam(8, 72), dst = Grid::cam(8, 36);
  // Wavenumber 5 survives; wavenumber 30 (above the target's Nyquist of 18) must vanish, not alias to 6.
  auto f = [](double, double lon) { return std::cos(5 * lon * kDegToRad) + std::cos(30 * lon * kDegToRad); };
  std::vector<float> in(size_t(src.size())), out(size_t(dst.size()));
  for (int64_t k = 0; k < src.size(); ++k) in[size_t(k)] = float(f(0, src.lon[size_t(k % 72)]));
  Regridder(src, dst).apply(in.data(), out.data());
  for (int64_t j = 0; j < 36; ++j) ASSERT_NEAR(out[size_t(j)], std::cos(5 * dst.lon[size_t(j)] * kDegToRad), 1e-5);
}

TEST(Regrid, NyquistTermsAreHandledBothWays) {
  // A cos at the source's Nyquist (wavenumber 6 on 12 columns) upsampled is still that cosine.
  Grid src = Grid::cam(3, 12), dst = Grid::cam(3, 24);
  std::vector<float> in(36), out(72);
  for (int64_t k = 0; k < 36; ++k) in[size_t(k)] = float(std::cos(6 * src.lon[size_t(k % 12)] * kDegToRad));
  Regridder(src, dst).apply(in.data(), out.data());
  for (int64_t j = 0; j < 24; ++j) ASSERT_NEAR(out[size_t(j)], std::cos(6 * dst.lon[size_t(j)] * kDegToRad), 1e-5);
  // Down to 12 columns, a cosine at the target's Nyquist is sampled exactly.
  Regridder down(dst, src);
  std::vector<float> back(36);
  down.apply(out.data(), back.data());
  for (int64_t j = 0; j < 12; ++j) ASSERT_NEAR(back[size_t(j)], in[size_t(j)], 1e-5);
}

TEST(Regrid, LinearLatitudeIsExactForLinearFieldsAndClampsOutside) {
  Grid src = Grid::centred(18, 36);  // -85..85
  Grid dst = Grid::cam(25, 36);      // -90..90
  auto f = [](double lat, double) { return 2.0 + 0.01 * lat; };
  auto in = sample(src, f);
  std::vector<float> out(size_t(dst.size()));
  Regridder(src, dst).apply(in.data(), out.data());
  for (int64_t i = 0; i < 25; ++i) {
    const double lat = std::clamp(dst.lat[size_t(i)], -85.0, 85.0);
    for (int64_t j = 0; j < 36; ++j) ASSERT_NEAR(out[size_t(i * 36 + j)], 2.0 + 0.01 * lat, 1e-5) << i;
  }
}

TEST(Regrid, RoundTripOneDegreeToQuarterDegreeAndBack) {
  const Grid coarse = Grid::cam(192, 288), fine = Grid::cam(768, 1152);
  auto in = sample(coarse, analytic);
  Regridder up(coarse, fine), down(fine, coarse);
  std::vector<float> mid(size_t(fine.size())), back(size_t(coarse.size()));
  up.apply(in.data(), mid.data());
  down.apply(mid.data(), back.data());
  double worst_fine = 0, worst_back = 0;
  for (int64_t i = 0; i < 768; ++i)
    for (int64_t j = 0; j < 1152; ++j)
      worst_fine = std::max(worst_fine,
                            std::abs(mid[size_t(i * 1152 + j)] - analytic(fine.lat[size_t(i)], fine.lon[size_t(j)])));
  for (size_t k = 0; k < back.size(); ++k) worst_back = std::max(worst_back, double(std::abs(back[k] - in[k])));
  // Linear interpolation in latitude errs by about dlat^2/8 |f''| (~1e-4 here); longitude is exact.
  EXPECT_LT(worst_fine, 2e-4);
  EXPECT_LT(worst_back, 2e-4);
}

TEST(Regrid, ConservativeLatitudeKeepsTheAreaMean) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0, 10);
  for (auto [src, dst] :
       {std::pair{Grid::cam(192, 288), Grid::cam(96, 144)}, {Grid::cam(48, 72), Grid::centred(180, 72)}}) {
    std::vector<float> in(size_t(src.size())), out(size_t(dst.size()));
    for (float& x : in) x = u(rng);
    Regridder(src, dst, LatInterp::conservative).apply(in.data(), out.data());
    EXPECT_NEAR(area_mean(dst, out), area_mean(src, in), 1e-5 * area_mean(src, in));
  }
  // Linear interpolation does not keep it (a check that the test can tell the difference).
  Grid src = Grid::cam(12, 16), dst = Grid::cam(7, 16);
  std::vector<float> in(size_t(src.size()), 0.0f), out(size_t(dst.size()));
  for (int64_t j = 0; j < 16; ++j) in[size_t(5 * 16 + j)] = 100.0f;  // one band just south of the equator
  Regridder(src, dst, LatInterp::conservative).apply(in.data(), out.data());
  const double kept = area_mean(dst, out);
  Regridder(src, dst, LatInterp::linear).apply(in.data(), out.data());
  EXPECT_NEAR(kept, area_mean(src, in), 1e-4);
  EXPECT_GT(std::abs(area_mean(dst, out) - area_mean(src, in)), 1e-2);
}

TEST(Regrid, NearestKeepsClassIdsAndPlaces) {
  Grid src = Grid::cam(96, 144), dst = Grid::cam(192, 288);
  std::vector<float> labels(size_t(src.size()), 0.0f), out(size_t(dst.size()));
  // A 3x3 block of class 2 around (lat 30, lon 100).
  const int64_t ic = int64_t(std::lround((30 + 90) / (180.0 / 95))), jc = 40;
  for (int64_t i = ic - 1; i <= ic + 1; ++i)
    for (int64_t j = jc - 1; j <= jc + 1; ++j) labels[size_t(i * 144 + j)] = 2.0f;
  Regridder(src, dst).apply_nearest(labels.data(), out.data());
  int64_t twos = 0;
  for (int64_t i = 0; i < 192; ++i)
    for (int64_t j = 0; j < 288; ++j) {
      const float v = out[size_t(i * 288 + j)];
      ASSERT_TRUE(v == 0.0f || v == 2.0f);
      if (v == 2.0f) {
        ++twos;
        // Within the block's reach: one and a half source cells from its centre.
        EXPECT_LE(std::abs(dst.lat[size_t(i)] - src.lat[size_t(ic)]), 1.5 * 180.0 / 95 + 1e-9);
        EXPECT_LE(std::abs(dst.lon[size_t(j)] - 100.0), 1.5 * 2.5 + 1e-9);
      }
    }
  EXPECT_GE(twos, 25);
  EXPECT_LE(twos, 49);
}

TEST(Regrid, RegionalGridsUseLinearLongitude) {
  Grid src, dst;
  for (int i = 0; i < 11; ++i) src.lat.push_back(20 + 2.0 * i), dst.lat.push_back(21 + 1.5 * i);
  for (int j = 0; j < 21; ++j) src.lon.push_back(230 + 2.5 * j);
  for (int j = 0; j < 30; ++j) dst.lon.push_back(231 + 1.5 * j);
  Regridder r(src, dst);
  EXPECT_FALSE(r.fourier_longitude());
  auto f = [](double lat, double lon) { return 0.5 * lat - 0.25 * lon; };
  auto in = sample(src, f);
  std::vector<float> out(size_t(dst.size()));
  r.apply(in.data(), out.data());
  for (int64_t i = 0; i < dst.height(); ++i)
    for (int64_t j = 0; j < dst.width(); ++j) {
      const double lat = std::min(dst.lat[size_t(i)], 40.0), lon = std::min(dst.lon[size_t(j)], 280.0);
      ASSERT_NEAR(out[size_t(i * dst.width() + j)], f(lat, lon), 1e-4);
    }
  EXPECT_THROW(Regridder(Grid{}, dst), Error);
}

TEST(Smooth, ConstantsStayConstant) {
  for (const Grid& g : {Grid::cam(48, 96), Grid::centred(30, 40)}) {
    std::vector<float> f(size_t(g.size()), 3.5f);
    GaussianSmoother(g, 800.0).apply(f.data());
    for (float x : f) ASSERT_NEAR(x, 3.5f, 1e-5);
  }
  Grid regional;
  for (int i = 0; i < 20; ++i) regional.lat.push_back(20 + i);
  for (int j = 0; j < 30; ++j) regional.lon.push_back(200 + j);
  std::vector<float> f(600, -2.0f);
  GaussianSmoother(regional, 300.0).apply(f.data());
  for (float x : f) ASSERT_NEAR(x, -2.0f, 1e-5) << "edges are normalised, not darkened";
}

TEST(Smooth, WavesAlongTheEquatorAreDampedByTheGaussianTransfer) {
  // One row at the equator: a zonal wave of wavenumber k is multiplied by exp(-(k sigma / R)^2 / 2).
  Grid g = Grid::cam(3, 360);
  const double sigma = 400.0, k = 12;
  std::vector<float> f(size_t(g.size()));
  for (int64_t n = 0; n < g.size(); ++n) f[size_t(n)] = float(std::cos(k * g.lon[size_t(n % 360)] * kDegToRad));
  GaussianSmoother s(g, sigma);
  s.apply(f.data());
  const double damp = std::exp(-0.5 * std::pow(k * sigma * 1000.0 / kEarthRadius, 2));
  // Row 1 is the equator. Rows are 90 degrees apart, far beyond the kernel (sigma 400 km = 3.6
  // degrees), so latitude smoothing mixes nothing in.
  double num = 0, den = 0;
  for (int64_t j = 0; j < 360; ++j) {
    const double c = std::cos(k * g.lon[size_t(j)] * kDegToRad);
    num += f[size_t(360 + j)] * c;
    den += c * c;
  }
  EXPECT_NEAR(num / den, damp, 1e-4);
}

TEST(Smooth, APointSpreadsWithTheRequestedWidthOnTheSphere) {
  const Grid g = Grid::cam(181, 360);  // 1 degree
  const double sigma = 500.0;
  std::vector<float> f(size_t(g.size()), 0.0f);
  const int64_t ic = 90 + 45, jc = 100;  // 45N
  f[size_t(ic * 360 + jc)] = 1.0f;
  GaussianSmoother(g, sigma).apply(f.data());
  // Second moments along the meridian and the parallel through the point, in km.
  const double km_lat = kEarthRadius / 1000.0 * kDegToRad, km_lon = km_lat * std::cos(45 * kDegToRad);
  double m0 = 0, mlat = 0, mlon = 0;
  for (int64_t i = 0; i < 181; ++i)
    for (int64_t j = 0; j < 360; ++j) {
      const double w = f[size_t(i * 360 + j)];
      int64_t dj = ((j - jc) % 360 + 540) % 360 - 180;
      m0 += w;
      mlat += w * std::pow((i - ic) * km_lat, 2);
      mlon += w * std::pow(dj * km_lon, 2);
    }
  EXPECT_NEAR(m0, 1.0, 1e-3);
  EXPECT_NEAR(std::sqrt(mlat / m0), sigma, 0.03 * sigma);
  EXPECT_NEAR(std::sqrt(mlon / m0), sigma, 0.03 * sigma);
}

TEST(Smooth, MaskedCellsAreFilledFromTheirNeighbours) {
  const Grid g = Grid::cam(48, 96);
  std::vector<float> f(size_t(g.size())), valid(size_t(g.size()), 1.0f);
  for (int64_t n = 0; n < g.size(); ++n) f[size_t(n)] = float(10 + (n % 96) * 0.01);
  std::vector<float> plain = f;
  GaussianSmoother s(g, 300.0);
  s.apply(plain.data());
  std::vector<float> masked = f;
  s.apply_masked(masked.data(), valid.data());
  for (size_t n = 0; n < f.size(); ++n) ASSERT_NEAR(masked[n], plain[n], 1e-4) << "all valid: the same";
  // A hole of NaN and invalid cells takes values near its surroundings, never NaN.
  for (int64_t j = 40; j < 44; ++j) {
    f[size_t(24 * 96 + j)] = NAN;
    valid[size_t(25 * 96 + j)] = 0.0f;
    f[size_t(25 * 96 + j)] = 1e6f;  // garbage under the mask must not leak
  }
  s.apply_masked(f.data(), valid.data());
  for (int64_t j = 40; j < 44; ++j) {
    EXPECT_NEAR(f[size_t(24 * 96 + j)], 10 + j * 0.01, 0.05);
    EXPECT_NEAR(f[size_t(25 * 96 + j)], 10 + j * 0.01, 0.05);
  }
}

TEST(Smooth, PlansAreMadeSafelyFromManyThreads) {
  const Grid g = Grid::cam(64, 128);
  std::vector<float> ref(size_t(g.size()));
  for (size_t n = 0; n < ref.size(); ++n) ref[n] = float(std::sin(0.01 * double(n)));
  std::vector<float> expect = ref;
  GaussianSmoother(g, 250.0).apply(expect.data());
  std::vector<std::vector<float>> results(4, ref);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      GaussianSmoother s(g, 250.0);
      Regridder r(g, Grid::cam(32, 64));
      s.apply(results[size_t(t)].data());
    });
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r, expect);
}
