// River and wave detectors on hand-made filaments and patches; the class-map priority.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "geo/sphere.hpp"
#include "models/heuristics/ar_detector.hpp"
#include "models/heuristics/labels.hpp"
#include "models/heuristics/wave_detector.hpp"

using namespace climseg;
using namespace climseg::heuristics;

namespace {

constexpr double kKmPerDeg = geo::kEarthRadius * geo::kDegToRad * 1e-3;

// Distance in km from (lat, lon) to the great-circle segment a→b (by dense sampling).
double segment_km(double lat, double lon, geo::LatLon a, geo::LatLon b) {
  double best = 1e30;
  for (int k = 0; k <= 60; ++k) {
    const double t = k / 60.0;
    // Interpolate along the great circle through unit vectors.
    auto unit = [](geo::LatLon p) {
      const double y = p.lat * geo::kDegToRad, x = p.lon * geo::kDegToRad;
      return std::array<double, 3>{std::cos(y) * std::cos(x), std::cos(y) * std::sin(x), std::sin(y)};
    };
    auto ua = unit(a), ub = unit(b);
    std::array<double, 3> m;
    for (int c = 0; c < 3; ++c) m[c] = (1 - t) * ua[c] + t * ub[c];
    const double n = std::sqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2]);
    const double plat = std::asin(m[2] / n) / geo::kDegToRad, plon = std::atan2(m[1], m[0]) / geo::kDegToRad;
    best = std::min(best, geo::great_circle_m(lat, lon, plat, plon) * 1e-3);
  }
  return best;
}

// Adds amp · exp(−d² / 2σ²) around the segment a→b (σ in km).
void add_filament(const geo::Grid& g, std::vector<float>& f, geo::LatLon a, geo::LatLon b, double amp,
                  double sigma_km) {
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < g.width(); ++j) {
      if (std::abs(g.lat[size_t(i)] - 0.5 * (a.lat + b.lat)) > 40) continue;
      const double d = segment_km(g.lat[size_t(i)], g.lon[size_t(j)], a, b);
      f[size_t(i * g.width() + j)] += float(amp * std::exp(-d * d / (2 * sigma_km * sigma_km)));
    }
}

void add_blob(const geo::Grid& g, std::vector<float>& f, double lat0, double lon0, double amp, double radius_km) {
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < g.width(); ++j)
      if (geo::great_circle_m(g.lat[size_t(i)], g.lon[size_t(j)], lat0, lon0) <= radius_km * 1e3)
        f[size_t(i * g.width() + j)] += float(amp);
}

}  // namespace

TEST(RiverDetector, IvtFilamentIsKeptBlobAndTropicalBandAreNot) {
  auto g = geo::Grid::centred(90, 180);  // 2°
  std::vector<float> ivt(size_t(g.size()), 100.0f);
  const geo::LatLon a{25, 200}, b{50, 240};
  add_filament(g, ivt, a, b, 500, 200);
  add_blob(g, ivt, -45, 320, 400, 700);               // round: length ~1400 km
  add_filament(g, ivt, {-4, 60}, {4, 90}, 500, 200);  // long but centred on the equator
  // The tropical damping (1 − exp(−φ²/2σ²), σ = 10°) keeps the equatorial filament under threshold.
  auto r = detect_ar_ivt(g, ivt, IvtArParams{});
  ASSERT_EQ(r.objects.size(), 2u);
  EXPECT_EQ(r.kept_count(), 1);
  // Without it the filament is an object, rejected for being centred on the equator.
  IvtArParams undamped;
  undamped.tropics_sigma_deg = 0;
  const auto all = detect_ar_ivt(g, ivt, undamped);
  ASSERT_EQ(all.objects.size(), 3u);
  EXPECT_EQ(all.kept_count(), 1);
  const ArObject* river = nullptr;
  for (const auto& o : r.objects)
    if (o.kept) river = &o;
  ASSERT_NE(river, nullptr);
  // IVT >= 250 within d = 200 sqrt(2 ln(500/150)) = 310 km of the axis: length = |AB| + 2 · 310 km.
  const double ab = geo::great_circle_m(a.lat, a.lon, b.lat, b.lon) * 1e-3;
  EXPECT_NEAR(river->stats.length_km, ab + 2 * 310, 2.5 * kKmPerDeg);
  EXPECT_GT(river->stats.length_km / river->stats.width_km, 4);
  EXPECT_GT(river->stats.centroid_lat, 30);
  EXPECT_LT(river->stats.centroid_lat, 45);
  // The mask is the kept object only.
  const auto cell = [&](double lat, double lon) {
    return size_t(int64_t(geo::fractional_row(g, lat) + 0.5) * 180 +
                  int64_t(geo::fractional_column(g, lon) + 0.5) % 180);
  };
  EXPECT_EQ(r.mask[cell(river->stats.centroid_lat, river->stats.centroid_lon)], 1);
  EXPECT_EQ(r.mask[size_t(int64_t(geo::fractional_row(g, -45)) * 180 + 160)], 0);

  IvtArParams lower = undamped;
  lower.min_abs_centroid_lat = 0;
  EXPECT_EQ(detect_ar_ivt(g, ivt, lower).kept_count(), 2);
  IvtArParams bad;
  bad.threshold = -1;
  EXPECT_THROW(detect_ar_ivt(g, ivt, bad), UsageError);
}

TEST(RiverDetector, PerCellThresholdField) {
  auto g = geo::Grid::centred(90, 180);
  std::vector<float> ivt(size_t(g.size()), 100.0f), thr(size_t(g.size()), 1000.0f);
  add_filament(g, ivt, {25, 200}, {50, 240}, 500, 200);
  IvtArParams p;
  p.threshold_field = thr;  // nothing exceeds 1000
  EXPECT_EQ(detect_ar_ivt(g, ivt, p).objects.size(), 0u);
}

TEST(RiverDetector, TmqMethodDampsTheTropics) {
  auto g = geo::Grid::centred(90, 180);
  std::vector<float> tmq(size_t(g.size()), 10.0f);
  for (int64_t i = 0; i < g.height(); ++i)
    if (std::abs(g.lat[size_t(i)]) < 10)
      for (int64_t j = 0; j < g.width(); ++j) tmq[size_t(i * 180 + j)] = 55.0f;  // moist tropics
  add_filament(g, tmq, {30, 150}, {48, 200}, 35, 250);                           // damped peak 45 · 0.85 > 24
  add_blob(g, tmq, -50, 300, 30, 900);                                           // too round
  auto r = detect_ar_tmq(g, tmq, TmqArParams{});
  EXPECT_EQ(r.kept_count(), 1);
  for (const auto& o : r.objects) {
    if (o.kept) {
      EXPECT_GT(o.stats.centroid_lat, 30);
    }
  }
}

TEST(WaveDetector, PatchesAboveThresholdAndArea) {
  auto g = geo::Grid::centred(90, 180);
  std::vector<float> hs(size_t(g.size()), 2.0f), valid(size_t(g.size()), 1.0f);
  add_blob(g, hs, -50, 100, 10, 600);  // 14 m over ~1.1e6 km²
  add_blob(g, hs, 40, 200, 10, 100);   // one or two cells: under 5e4 km²
  auto m = detect_extreme_waves(g, hs, valid, WaveParams{});
  const auto count = std::count(m.begin(), m.end(), 1);
  EXPECT_GT(count, 20);
  EXPECT_EQ(m[size_t(int64_t(geo::fractional_row(g, -51)) * 180 + 50)], 1);
  EXPECT_EQ(m[size_t(int64_t(geo::fractional_row(g, 41)) * 180 + 100)], 0);
  // Land (invalid) cells never count.
  std::fill(valid.begin(), valid.end(), 0.0f);
  auto none = detect_extreme_waves(g, hs, valid, WaveParams{});
  EXPECT_EQ(std::count(none.begin(), none.end(), 1), 0);
  // A per-cell threshold above the patch removes it.
  std::vector<float> thr(size_t(g.size()), 20.0f);
  WaveParams p;
  p.threshold_field = thr;
  auto high = detect_extreme_waves(g, hs, {}, p);
  EXPECT_EQ(std::count(high.begin(), high.end(), 1), 0);
}

TEST(Labels, PriorityIsCycloneThenRiverThenWaves) {
  std::vector<uint8_t> tc = {1, 1, 0, 0, 0}, ar = {1, 0, 1, 1, 0}, wv = {1, 1, 1, 0, 1};
  auto m = merge_classes(5, tc, ar, wv);
  EXPECT_EQ(m, (std::vector<uint8_t>{1, 1, 2, 2, 3}));
  auto no_waves = merge_classes(5, tc, ar, {});
  EXPECT_EQ(no_waves, (std::vector<uint8_t>{1, 1, 2, 2, 0}));
  EXPECT_EQ(class_names()[3], "extreme_waves");
  EXPECT_THROW(merge_classes(4, tc, {}, {}), Error);
}

TEST(RiverDetector, AreaLengthAspectAndLatitudeEachRejectOnTheirOwn) {
  // One river that passes every filter; each limit set just above the river's own measure rejects it
  // with the others unchanged, and just below keeps it (each filter acts alone, inclusively).
  auto g = geo::Grid::centred(90, 180);
  std::vector<float> ivt(size_t(g.size()), 100.0f);
  add_filament(g, ivt, {25, 200}, {50, 240}, 500, 200);
  const auto base = detect_ar_ivt(g, ivt, IvtArParams{});
  ASSERT_EQ(base.objects.size(), 1u);
  ASSERT_TRUE(base.objects[0].kept);
  const auto& s = base.objects[0].stats;
  ASSERT_GT(s.area_km2, 1e5);
  ASSERT_GT(s.length_km, 2000);
  auto kept_with = [&](auto set) {
    IvtArParams p;
    set(p);
    return detect_ar_ivt(g, ivt, p).kept_count() == 1;
  };
  const double up = 1 + 1e-6, down = 1 - 1e-6;
  EXPECT_FALSE(kept_with([&](IvtArParams& p) { p.min_area_km2 = s.area_km2 * up; }));
  EXPECT_TRUE(kept_with([&](IvtArParams& p) { p.min_area_km2 = s.area_km2 * down; }));
  EXPECT_FALSE(kept_with([&](IvtArParams& p) { p.min_length_km = s.length_km * up; }));
  EXPECT_TRUE(kept_with([&](IvtArParams& p) { p.min_length_km = s.length_km * down; }));
  const double aspect = s.length_km / s.width_km;
  EXPECT_FALSE(kept_with([&](IvtArParams& p) { p.min_aspect = aspect * up; }));
  EXPECT_TRUE(kept_with([&](IvtArParams& p) { p.min_aspect = aspect * down; }));
  EXPECT_FALSE(kept_with([&](IvtArParams& p) { p.min_abs_centroid_lat = std::abs(s.centroid_lat) * up; }));
  EXPECT_TRUE(kept_with([&](IvtArParams& p) { p.min_abs_centroid_lat = std::abs(s.centroid_lat) * down; }));

  // A round blob passes the area filter but not the aspect one; a short thin filament passes the
  // aspect filter but not the length one: the two geometry filters reject different objects.
  std::vector<float> blob(size_t(g.size()), 100.0f), stub(size_t(g.size()), 100.0f);
  add_blob(g, blob, 45, 200, 400, 1300);  // ~2600 km across: long enough, aspect ~1.3
  add_filament(g, stub, {40, 200}, {40, 216}, 500, 120);
  const auto rb = detect_ar_ivt(g, blob, IvtArParams{});
  ASSERT_EQ(rb.objects.size(), 1u);
  EXPECT_GE(rb.objects[0].stats.length_km, 2000);
  EXPECT_GE(rb.objects[0].stats.area_km2, 1e5);
  EXPECT_LT(rb.objects[0].stats.length_km, 2 * rb.objects[0].stats.width_km);
  EXPECT_FALSE(rb.objects[0].kept);
  const auto rs = detect_ar_ivt(g, stub, IvtArParams{});
  ASSERT_EQ(rs.objects.size(), 1u);
  EXPECT_GE(rs.objects[0].stats.length_km, 2 * rs.objects[0].stats.width_km);
  EXPECT_LT(rs.objects[0].stats.length_km, 2000);
  EXPECT_FALSE(rs.objects[0].kept);
}
