// Spherical derivatives, column integrals and wave spectra against hand-worked formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "geo/column.hpp"
#include "geo/sphere.hpp"
#include "geo/wave_spectrum.hpp"

using namespace climseg::geo;

namespace {

constexpr double kU0 = 20.0;  // m s-1

// Solid-body rotation about an axis tilted by alpha from the pole (Williamson et al. 1992, case 1):
// u = U0 (cos φ cos α + sin φ cos λ sin α), v = −U0 sin λ sin α, ζ = 2 U0 / R (sin φ cos α − cos φ cos λ sin α).
struct SolidBody {
  double alpha;
  double u(double lat, double lon) const {
    const double p = lat * kDegToRad, l = lon * kDegToRad;
    return kU0 * (std::cos(p) * std::cos(alpha) + std::sin(p) * std::cos(l) * std::sin(alpha));
  }
  double v(double, double lon) const { return -kU0 * std::sin(lon * kDegToRad) * std::sin(alpha); }
  double zeta(double lat, double lon) const {
    const double p = lat * kDegToRad, l = lon * kDegToRad;
    return 2 * kU0 / kEarthRadius * (std::sin(p) * std::cos(alpha) - std::cos(p) * std::cos(l) * std::sin(alpha));
  }
};

void fill(const Grid& g, const SolidBody& s, std::vector<float>& u, std::vector<float>& v) {
  u.resize(size_t(g.size()));
  v.resize(size_t(g.size()));
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < g.width(); ++j) {
      u[size_t(i * g.width() + j)] = float(s.u(g.lat[size_t(i)], g.lon[size_t(j)]));
      v[size_t(i * g.width() + j)] = float(s.v(g.lat[size_t(i)], g.lon[size_t(j)]));
    }
}

// Largest |ζ − exact| over the grid, relative to the scale 2 U0 / R.
double vorticity_error(const Grid& g, const SolidBody& s, double max_lat = 90.0) {
  std::vector<float> u, v, z(size_t(g.size()));
  fill(g, s, u, v);
  relative_vorticity(g, u, v, z);
  double err = 0;
  for (int64_t i = 0; i < g.height(); ++i) {
    if (std::abs(g.lat[size_t(i)]) > max_lat) continue;
    for (int64_t j = 0; j < g.width(); ++j)
      err = std::max(err, std::abs(z[size_t(i * g.width() + j)] - s.zeta(g.lat[size_t(i)], g.lon[size_t(j)])));
  }
  return err / (2 * kU0 / kEarthRadius);
}

}  // namespace

TEST(Sphere, SolidBodyRotationVorticityIsTwoU0SinPhiOverR) {
  // u = U0 cos φ, v = 0: u cos φ = U0 cos² φ, so ζ = −(1/(R cos φ)) ∂(U0 cos² φ)/∂φ = 2 U0 sin φ / R.
  Grid g = Grid::cam(181, 360);
  std::vector<float> u(size_t(g.size())), v(size_t(g.size()), 0.0f), z(size_t(g.size()));
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < g.width(); ++j)
      u[size_t(i * 360 + j)] = float(kU0 * std::cos(g.lat[size_t(i)] * kDegToRad));
  relative_vorticity(g, u, v, z);
  const double scale = 2 * kU0 / kEarthRadius;
  for (int64_t i : {0L, 1L, 45L, 90L, 91L, 135L, 179L, 180L}) {
    const double exact = scale * std::sin(g.lat[size_t(i)] * kDegToRad);
    for (int64_t j : {0L, 17L, 359L}) EXPECT_NEAR(z[size_t(i * 360 + j)], exact, 1e-3 * scale) << "row " << i;
  }
  // At 30°N by hand: 2 · 20 · 0.5 / 6.37122e6 = 3.1392e-6 s-1.
  EXPECT_NEAR(z[size_t(120 * 360)], 3.1392e-6, 2e-9);
  EXPECT_FLOAT_EQ(z[size_t(90 * 360)] + 1.0f, 1.0f);  // zero on the equator
}

TEST(Sphere, TiltedSolidBodyRotationIsSecondOrderAccurate) {
  // The tilted axis exercises ∂v/∂λ and the periodic seam; halving the spacing quarters the error
  // away from the poles.
  const SolidBody s{0.7};
  const double coarse = vorticity_error(Grid::centred(90, 180), s, 80.0);
  const double fine = vorticity_error(Grid::centred(180, 360), s, 80.0);
  EXPECT_LT(fine, 1e-3);
  EXPECT_NEAR(coarse / fine, 4.0, 0.4);
  // Near a pole ζ is the small difference of two terms that grow as 1 / cos φ, so the error there
  // is first order in the spacing; it still shrinks with resolution.
  const double polar_coarse = vorticity_error(Grid::centred(90, 180), s);
  const double polar_fine = vorticity_error(Grid::centred(180, 360), s);
  EXPECT_LT(polar_fine, 0.01);
  EXPECT_NEAR(polar_coarse / polar_fine, 2.0, 0.3);
  // On CAM's grid with pole rows the cap formula holds to the cap's size.
  EXPECT_LT(vorticity_error(Grid::cam(181, 360), s), 0.01);
}

TEST(Sphere, RegionalAndUnevenGridsUseOneSidedEdges) {
  const SolidBody s{0.4};
  Grid regional;
  for (int i = 0; i < 33; ++i) regional.lat.push_back(20.0 + 1.25 * i);
  for (int j = 0; j < 36; ++j) regional.lon.push_back(220.0 + 2.5 * j);
  regional.periodic = false;
  EXPECT_LT(vorticity_error(regional, s), 2e-3);
  EXPECT_GT(vorticity_error(regional, s), 1e-6);  // the test can fail: the stencils are not exact

  // Gaussian-like uneven latitudes.
  Grid uneven = Grid::centred(96, 192);
  for (size_t i = 0; i < uneven.lat.size(); ++i) uneven.lat[i] += 0.3 * std::sin(double(i));
  EXPECT_LT(vorticity_error(uneven, s, 80.0), 3e-3);
}

TEST(Sphere, InterpolationIsBilinearAndNanPositionsGiveNan) {
  // f = lat + 1000 * column on a regional grid and a global one: bilinear interpolation is exact.
  Grid regional;
  for (int i = 0; i < 5; ++i) regional.lat.push_back(20.0 + 2.0 * i);
  for (int j = 0; j < 6; ++j) regional.lon.push_back(220.0 + 4.0 * j);
  regional.periodic = false;
  std::vector<float> f(30);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 6; ++j) f[size_t(i * 6 + j)] = float(20.0 + 2.0 * i + 1000.0 * j);
  EXPECT_NEAR(interpolate(regional, f, 23.0, 226.0), 23.0 + 1500.0, 1e-9);
  EXPECT_NEAR(interpolate(regional, f, 23.0, 226.0 - 360.0), 23.0 + 1500.0, 1e-9);  // -134 E is 226 E
  // A NaN position (a centre refined from fill values) reads nothing outside the field.
  EXPECT_TRUE(std::isnan(interpolate(regional, f, std::nan(""), 226.0)));
  EXPECT_TRUE(std::isnan(interpolate(regional, f, 23.0, std::nan(""))));
  Grid global = Grid::centred(4, 8);
  std::vector<float> h(32, 1.0f);
  EXPECT_TRUE(std::isnan(interpolate(global, h, 0.0, std::nan(""))));
  EXPECT_TRUE(std::isnan(interpolate(global, h, std::nan(""), 10.0)));
  EXPECT_EQ(interpolate(global, h, 10.0, 359.9), 1.0);
}

TEST(Sphere, DivergenceOfMeridionalFlow) {
  // u = 0, v = V cos φ: δ = (1/(R cos φ)) ∂(V cos² φ)/∂φ = −2 V sin φ / R; solid-body flow has δ = 0.
  Grid g = Grid::centred(180, 360);
  std::vector<float> u(size_t(g.size()), 0.0f), v(size_t(g.size())), d(size_t(g.size()));
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < g.width(); ++j) v[size_t(i * 360 + j)] = float(10 * std::cos(g.lat[size_t(i)] * kDegToRad));
  divergence(g, u, v, d);
  for (int64_t i : {0L, 30L, 100L, 179L})
    EXPECT_NEAR(d[size_t(i * 360 + 7)], -2 * 10 * std::sin(g.lat[size_t(i)] * kDegToRad) / kEarthRadius,
                2e-3 * 20 / kEarthRadius);
  const SolidBody s{1.1};
  fill(g, s, u, v);
  divergence(g, u, v, d);
  for (float x : d) ASSERT_NEAR(x, 0.0, 1e-3 * 2 * kU0 / kEarthRadius);
}

TEST(Sphere, SizeMismatchIsAnError) {
  Grid g = Grid::cam(10, 20);
  std::vector<float> u(200), v(199), z(200);
  EXPECT_THROW(relative_vorticity(g, u, v, z), climseg::Error);
}

TEST(Sphere, LatitudeDampingFactor) {
  Grid g;
  g.lat = {-19.0, 0.0, 19.0, 60.0};
  g.lon = {0.0};
  auto f = latitude_damping(g, 19.0);
  EXPECT_NEAR(f[1], 0.0, 1e-15);
  EXPECT_NEAR(f[0], 1 - std::exp(-0.5), 1e-15);
  EXPECT_NEAR(f[2], 1 - std::exp(-0.5), 1e-15);
  EXPECT_NEAR(f[3], 1 - std::exp(-60.0 * 60 / (2 * 19.0 * 19)), 1e-15);
}

TEST(Column, IvtOfAConstantProfile) {
  // q, u, v constant from 1000 to 300 hPa: IVT_u = q u (70000 Pa) / g.
  const int64_t N = 3;
  auto lv = VerticalLevels::pressure({30000, 100000, 50000, 85000, 70000});  // any order
  std::vector<float> q(5 * N, 0.01f), u(5 * N, 10.0f), v(5 * N, -5.0f);
  std::vector<float> iu(N), iv(N), m(N);
  integrated_vapour_transport(lv, q, u, v, {}, {}, {iu, iv, m});
  EXPECT_NEAR(iu[0], 0.01 * 10 * 70000 / 9.80665, 1e-3);  // 713.78 kg m-1 s-1
  EXPECT_NEAR(iv[1], -0.01 * 5 * 70000 / 9.80665, 1e-3);
  EXPECT_NEAR(m[2], 0.01 * std::hypot(10.0, 5.0) * 70000 / 9.80665, 1e-3);

  // With surface pressure 900 hPa at point 1 the 1000 hPa level is below ground: 85000 − 30000 Pa.
  std::vector<float> ps = {101000, 90000, 101000};
  integrated_vapour_transport(lv, q, u, v, ps, {}, {iu, iv, m});
  EXPECT_NEAR(iu[1], 0.01 * 10 * 55000 / 9.80665, 1e-3);
  EXPECT_NEAR(iu[0], 0.01 * 10 * 70000 / 9.80665, 1e-3);
}

TEST(Column, TrapezoidIsExactForLinearProfilesAndHybridLevels) {
  // q = 1e-7 p (p in Pa), u = 1: ∫ q dp from 20000 to 100000 = 0.5e-7 (1e10 − 4e8) = 480.
  const int64_t N = 1;
  auto lv = VerticalLevels::pressure({20000, 40000, 60000, 80000, 100000});
  std::vector<float> q, u(5, 1.0f), v(5, 0.0f), iu(N), iv(N), m(N), iwv(N);
  for (double p : lv.pressure_pa) q.push_back(float(1e-7 * p));
  integrated_vapour_transport(lv, q, u, v, {}, {}, {iu, iv, m});
  // Trapezoid of a quadratic integrand (q·u = q is linear: exact).
  EXPECT_NEAR(iu[0], 480.0 / 9.80665, 1e-4);
  integrated_water_vapour(lv, q, {}, {}, iwv);
  EXPECT_NEAR(iwv[0], 480.0 / 9.80665, 1e-4);

  // CAM hybrid levels: p = hyam p0 + hybm PS. With PS = 95000: p = {10000, 39000, 70000, 92150}.
  auto hy = VerticalLevels::cam_hybrid({0.1, 0.2, 0.1, 0.0}, {0.0, 0.2, 0.631578947368421, 0.97}, 100000);
  std::vector<float> q4(4, 0.005f), u4(4, 4.0f), v4(4, 3.0f), ps = {95000};
  integrated_vapour_transport(hy, q4, u4, v4, ps, {}, {iu, iv, m});
  EXPECT_NEAR(m[0], 0.005 * 5 * (92150 - 10000) / 9.80665, 1e-3);
  EXPECT_THROW(integrated_vapour_transport(hy, q4, u4, v4, {}, {}, {iu, iv, m}), climseg::Error);
}

TEST(Column, FillValuesAreLeftOut) {
  auto lv = VerticalLevels::pressure({30000, 50000, 70000, 100000});
  std::vector<float> q(4, 0.01f), u(4, 10.0f), v(4, 0.0f), valid = {1, 1, 1, 0}, iu(1), iv(1), m(1);
  integrated_vapour_transport(lv, q, u, v, {}, valid, {iu, iv, m});
  EXPECT_NEAR(iu[0], 0.01 * 10 * 40000 / 9.80665, 1e-3);
}

TEST(WaveSpectrum, ConstantSpectrumByHand) {
  // E = 0.5 m2 s rad-1 on 0.05..0.25 Hz in 24 directions: m0 = 0.5 · 0.2 · 2π, Hs = 4 sqrt(m0).
  std::vector<double> f = {0.05, 0.1, 0.15, 0.25}, dir;
  for (int d = 0; d < 24; ++d) dir.push_back(7.5 + 15.0 * d);
  std::vector<float> e(4 * 24, 0.5f);
  const double m0 = 0.5 * 0.2 * 2 * kPi;
  EXPECT_NEAR(spectral_m0(e, f, dir), m0, 1e-12);
  EXPECT_NEAR(significant_wave_height(e, f, dir), 4 * std::sqrt(m0), 1e-12);
  // The same density per degree integrates over 360 degrees.
  EXPECT_NEAR(spectral_m0(e, f, dir, DirectionUnit::degree), 0.5 * 0.2 * 360, 1e-9);
  e[5] = -1.0f;
  EXPECT_THROW(spectral_m0(e, f, dir), climseg::Error);
}
