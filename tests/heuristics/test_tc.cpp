// The cyclone detector on hand-made Holland vortices: candidates, tracks, masks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/error.hpp"
#include "models/heuristics/tc_detector.hpp"
#include "models/heuristics/tc_mask.hpp"
#include "models/heuristics/tc_tracks.hpp"
#include "vortex.hpp"

using namespace climseg;
using namespace climseg::heuristics;
using climseg::test::Weather;

namespace {

heuristics::TcFields fields_of(const Weather& w) {
  return {.vorticity = w.vort, .psl = w.psl, .wind = w.wind, .warm_core = w.tbar, .thickness = w.thick};
}

double distance_deg(double lat1, double lon1, double lat2, double lon2) {
  return geo::great_circle_m(lat1, lon1, lat2, lon2) / (geo::kEarthRadius * geo::kDegToRad);
}

}  // namespace

TEST(TcDetector, FindsAHollandVortexWhereItIs) {
  Weather w(geo::Grid::centred(180, 360));
  w.add_vortex(18.3, 140.6);
  w.derive();
  auto c = detect_tc_candidates(w.grid, fields_of(w), TcParams{}, 7, 1.75);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_LT(distance_deg(c[0].lat, c[0].lon, 18.3, 140.6), 0.5) << c[0].lat << " " << c[0].lon;
  EXPECT_EQ(c[0].step, 7);
  EXPECT_DOUBLE_EQ(c[0].time_days, 1.75);
  EXPECT_GT(c[0].vorticity, 1.6e-4);              // positive (cyclonic) in the north
  EXPECT_NEAR(c[0].psl_min, 101300 - 3000, 700);  // the grid does not sample the exact centre
  EXPECT_GT(c[0].pressure_delta, 2000);
  EXPECT_GT(c[0].wind_max, 25);
  EXPECT_TRUE(c[0].warm_core);
  EXPECT_TRUE(c[0].thickness);
  EXPECT_GT(c[0].warm_core_delta, 0.8);
}

TEST(TcDetector, SouthernStormAcrossTheDateLine) {
  Weather w(geo::Grid::centred(180, 360));
  w.add_vortex(-15.2, 359.7);
  w.add_vortex(22.0, 60.0);
  w.derive();
  auto c = detect_tc_candidates(w.grid, fields_of(w), TcParams{});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_LT(c[0].lat, 0);
  EXPECT_LT(c[0].vorticity, -1.6e-4);  // clockwise: negative vorticity, sign flipped by the detector
  EXPECT_LT(distance_deg(c[0].lat, c[0].lon, -15.2, 359.7), 0.5);
  EXPECT_LT(distance_deg(c[1].lat, c[1].lon, 22.0, 60.0), 0.5);
}

TEST(TcDetector, EachCriterionRejects) {
  Weather w(geo::Grid::centred(180, 360));
  w.add_vortex(20, 100, /*dp=*/3000, 80, 1.5, /*warm=*/0.0, /*thick=*/0.0);
  w.derive();
  auto c = detect_tc_candidates(w.grid, fields_of(w), TcParams{});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].warm_core);  // a cold-core low is a candidate but flagged
  EXPECT_FALSE(c[0].thickness);

  TcParams strict;
  strict.min_vorticity = 5e-3;
  EXPECT_TRUE(detect_tc_candidates(w.grid, fields_of(w), strict).empty());
  TcParams deep;
  deep.min_pressure_delta_pa = 5000;
  EXPECT_TRUE(detect_tc_candidates(w.grid, fields_of(w), deep).empty());
  TcParams band;
  band.lat_max = 15;
  EXPECT_TRUE(detect_tc_candidates(w.grid, fields_of(w), band).empty());

  Weather calm(geo::Grid::centred(180, 360));
  calm.derive();
  EXPECT_TRUE(detect_tc_candidates(calm.grid, fields_of(calm), TcParams{}).empty());
}

TEST(TcDetector, PressureMinimumTooFarFromTheVorticityIsRejected) {
  Weather w(geo::Grid::centred(180, 360));
  w.add_vortex(20, 100);
  w.derive();
  // Move the pressure low 4° east of the vortex: no SLP minimum within 2° of the vorticity maximum.
  Weather shifted(geo::Grid::centred(180, 360));
  shifted.add_vortex(20, 104);
  for (size_t k = 0; k < w.psl.size(); ++k) w.psl[k] = shifted.psl[k];
  EXPECT_TRUE(detect_tc_candidates(w.grid, fields_of(w), TcParams{}).empty());
}

TEST(TcDetector, BadParametersAreUsageErrors) {
  TcParams p;
  p.vorticity_window_deg = -1;
  EXPECT_THROW(p.validate(), UsageError);
  Weather w(geo::Grid::centred(18, 36));
  w.derive();
  auto f = fields_of(w);
  std::vector<float> short_field(10);
  f.psl = short_field;
  EXPECT_THROW(detect_tc_candidates(w.grid, f, TcParams{}), Error);
}

TEST(TcDetector, ClosedContourDeltaByHand) {
  // A cone p = 100000 + 100 Pa per degree of arc from (1, 180), a grid point: within 5° it rises by
  // 500 Pa in every direction; seen from 1° away, the weakest direction (towards the apex and
  // beyond) rises only by 100 · ((5 − 1) − 1) = 300 Pa.
  auto g = geo::Grid::centred(90, 180);
  std::vector<float> p(size_t(g.size()));
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < g.width(); ++j)
      p[size_t(i * 180 + j)] = float(100000 + 100 * distance_deg(g.lat[size_t(i)], g.lon[size_t(j)], 1, 180));
  EXPECT_NEAR(closed_contour_delta(g, p, 1, 180, 5.0, false), 500.0, 10.0);
  EXPECT_NEAR(closed_contour_delta(g, p, 1, 181, 5.0, false), 300.0, 15.0);
  EXPECT_LT(closed_contour_delta(g, p, 1, 180, 5.0, true), 0.0);  // it never falls
}

namespace {

// A Holland vortex at (20.5, 100.0), a grid point of the 1° grid (so its pressure minimum is exactly
// there), with no warm core or thickness anomaly of its own; `warm(d)` and `thick(d)` (d: degrees
// of arc from the centre) are added to the warm-core and thickness fields.
template <class Warm, class Thick>
Weather storm_with(Warm warm, Thick thick) {
  Weather w(geo::Grid::centred(180, 360));
  w.add_vortex(20.5, 100.0, 3000, 80, 1.5, 0.0, 0.0);
  for (int64_t i = 0; i < w.grid.height(); ++i)
    for (int64_t j = 0; j < w.grid.width(); ++j) {
      const double d = distance_deg(w.grid.lat[size_t(i)], w.grid.lon[size_t(j)], 20.5, 100.0);
      w.tbar[size_t(i * 360 + j)] += float(warm(d));
      w.thick[size_t(i * 360 + j)] += float(thick(d));
    }
  w.derive();
  return w;
}

}  // namespace

TEST(TcDetector, WarmCoreAndThicknessAtTheirThresholds) {
  // Cones falling 1 K and 10 m per degree: the measured falls (≈5 K within 5°, ≈40 m within 4°) set
  // the scale that puts each just above and just below TECA's 0.8 K and 50 m.
  auto cone = [](double per_deg) { return [per_deg](double d) { return -per_deg * d; }; };
  auto none = [](double) { return 0.0; };
  Weather unit = storm_with(cone(1.0), cone(10.0));
  auto c = detect_tc_candidates(unit.grid, fields_of(unit), TcParams{});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].lat, 20.5);
  EXPECT_EQ(c[0].lon, 100.0);
  const double warm1 = c[0].warm_core_delta, thick1 = c[0].thickness_delta;
  EXPECT_NEAR(warm1, 5.0, 1e-3);   // 1 K/° out to 5°
  EXPECT_NEAR(thick1, 40.0, 0.1);  // 10 m/° out to 4°
  for (double f : {1.001, 0.999}) {
    const double kw = 0.8 * f / warm1, kt = 10.0 * 50.0 * f / thick1;
    Weather w = storm_with(cone(kw), cone(kt));
    auto k = detect_tc_candidates(w.grid, fields_of(w), TcParams{});
    ASSERT_EQ(k.size(), 1u);
    EXPECT_NEAR(k[0].warm_core_delta, 0.8 * f, 1e-4);
    EXPECT_NEAR(k[0].thickness_delta, 50.0 * f, 1e-3);
    EXPECT_EQ(k[0].warm_core, f > 1) << "warm core " << k[0].warm_core_delta << " K";
    EXPECT_EQ(k[0].thickness, f > 1) << "thickness " << k[0].thickness_delta << " m";
  }
  // Each test alone: a warm core without a thickness anomaly, and the reverse.
  Weather warm_only = storm_with(cone(1.0), none);
  auto wo = detect_tc_candidates(warm_only.grid, fields_of(warm_only), TcParams{});
  ASSERT_EQ(wo.size(), 1u);
  EXPECT_TRUE(wo[0].warm_core);
  EXPECT_FALSE(wo[0].thickness);
}

TEST(TcDetector, WarmCoreAndThicknessRadii) {
  // A plateau of +2 K and +120 m that falls to the background over the last degree before R: the
  // fall lies within TECA's 5° (warm core) or 4° (thickness) radius only when R is inside it.
  auto plateau = [](double amp, double r) {
    return [amp, r](double d) { return amp * std::clamp(r - d, 0.0, 1.0) + 0.01 * amp * std::max(0.0, 3.0 - d); };
  };
  auto flags = [](const Weather& w, const TcParams& p) {
    auto c = detect_tc_candidates(w.grid, fields_of(w), p);
    EXPECT_EQ(c.size(), 1u);
    return c.empty() ? std::pair{false, false} : std::pair{c[0].warm_core, c[0].thickness};
  };
  EXPECT_EQ(flags(storm_with(plateau(2.0, 4.8), plateau(120.0, 3.8)), TcParams{}), std::pair(true, true));
  EXPECT_EQ(flags(storm_with(plateau(2.0, 6.3), plateau(120.0, 5.3)), TcParams{}), std::pair(false, false));
  // The same fields with the warm core sought out to 6.5° and the thickness out to 5.5°.
  TcParams wide;
  wide.core_temp_radius_deg = 6.5;
  wide.thickness_radius_deg = 5.5;
  EXPECT_EQ(flags(storm_with(plateau(2.0, 6.3), plateau(120.0, 5.3)), wide), std::pair(true, true));
  // The pressure rise within 5°: a Holland low of 3000 Pa rises by nearly all of it within 5°; with
  // the rise sought within 0.5° it is a fraction, under 400 Pa only for a broad low.
  Weather broad(geo::Grid::centred(180, 360));
  broad.add_vortex(20.5, 100.0, 3000, 400, 1.0);
  broad.derive();
  TcParams near;
  near.pressure_delta_radius_deg = 1.0;
  EXPECT_EQ(detect_tc_candidates(broad.grid, fields_of(broad), TcParams{}).size(), 1u);
  EXPECT_TRUE(detect_tc_candidates(broad.grid, fields_of(broad), near).empty());
}

TEST(TcDetector, VorticityWindowOf774Degrees) {
  // On a 1° grid TECA's 7.74446° window is int((7.74446 / 1 - 1) / 2) = 3 cells each side: a
  // stronger vorticity cell 3 columns away hides the storm's maximum, one 4 columns away does not.
  const auto g = geo::Grid::centred(180, 360);
  const int64_t W = 360, ic = int64_t(geo::fractional_row(g, 20.5)), jc = int64_t(geo::fractional_column(g, 100.0));
  std::vector<float> psl(size_t(g.size())), wind(size_t(g.size()), 20.0f);
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < W; ++j)  // a cone: 200 Pa per degree from the centre
      psl[size_t(i * W + j)] = float(100000 + 200 * distance_deg(g.lat[size_t(i)], g.lon[size_t(j)], 20.5, 100.0));
  auto found = [&](int64_t offset, int64_t row_offset, double window) {
    std::vector<float> vort(size_t(g.size()), 0.0f);
    vort[size_t(ic * W + jc)] = 3e-4f;
    vort[size_t((ic + row_offset) * W + jc + offset)] = 4e-4f;  // no SLP minimum within 2° of it
    TcParams p;
    p.vorticity_window_deg = window;
    return detect_tc_candidates(g, {.vorticity = vort, .psl = psl, .wind = wind}, p, 0, 0).size();
  };
  EXPECT_EQ(found(3, 0, 7.74446), 0u);
  EXPECT_EQ(found(4, 0, 7.74446), 1u);
  EXPECT_EQ(found(0, 3, 7.74446), 0u);  // rows likewise
  EXPECT_EQ(found(0, 4, 7.74446), 1u);
  // A 9° window reaches 4 cells: int((9 - 1) / 2) = 4.
  EXPECT_EQ(found(4, 0, 9.0), 0u);
  EXPECT_EQ(found(5, 0, 9.0), 1u);
  // Just under the threshold vorticity no candidate: 1.6e-4 is inclusive.
  std::vector<float> vort(size_t(g.size()), 0.0f);
  vort[size_t(ic * W + jc)] = 1.6e-4f;
  TcParams at;
  at.min_vorticity = double(1.6e-4f);
  EXPECT_EQ(detect_tc_candidates(g, {.vorticity = vort, .psl = psl, .wind = wind}, at).size(), 1u);
  at.min_vorticity = double(1.6e-4f) * 1.0001;
  EXPECT_TRUE(detect_tc_candidates(g, {.vorticity = vort, .psl = psl, .wind = wind}, at).empty());
}

TEST(TcDetector, ClosedContourLeavesOutDirectionsIntoMissingData) {
  // The cone of ClosedContourDeltaByHand with the cells east of 182° missing (NaN): the three
  // eastward directions meet them. TECA's rule (0 left out) fails; leaving out 3 gives the full
  // 500 Pa rise of the others; a missing centre takes its nearest cell.
  auto g = geo::Grid::centred(90, 180);
  std::vector<float> p(size_t(g.size()));
  for (int64_t i = 0; i < g.height(); ++i)
    for (int64_t j = 0; j < g.width(); ++j)
      p[size_t(i * 180 + j)] = g.lon[size_t(j)] > 182 && g.lon[size_t(j)] < 200
                                   ? std::numeric_limits<float>::quiet_NaN()
                                   : float(100000 + 100 * distance_deg(g.lat[size_t(i)], g.lon[size_t(j)], 1, 180));
  EXPECT_LT(closed_contour_delta(g, p, 1, 180, 5.0, false, 0), 300.0);
  EXPECT_LT(closed_contour_delta(g, p, 1, 180, 5.0, false, 2), 300.0);
  EXPECT_NEAR(closed_contour_delta(g, p, 1, 180, 5.0, false, 3), 500.0, 10.0);
}

namespace {

TcCandidate cand(int64_t step, double lat, double lon, double wind = 30, bool warm = true) {
  TcCandidate c;
  c.step = step;
  c.time_days = step * 0.25;
  c.lat = lat;
  c.lon = lon;
  c.wind_max = wind;
  c.warm_core = warm;
  c.thickness = warm;
  return c;
}

std::vector<double> six_hourly(int n) {
  std::vector<double> t;
  for (int s = 0; s < n; ++s) t.push_back(0.25 * s);
  return t;
}

}  // namespace

TEST(TcTracks, StitchesTwoStormsAndDropsShortOnes) {
  std::vector<TcCandidate> c;
  // Storm A: 12 steps moving 1° west per step (111 km per 6 h = 445 km/day < 1600).
  for (int s = 0; s < 12; ++s) c.push_back(cand(s, 15 + 0.2 * s, 150 - 1.0 * s));
  // Storm B (south): 4 steps only: 1 day < 2 days of wind.
  for (int s = 3; s < 7; ++s) c.push_back(cand(s, -12, 80 + 0.5 * s));
  // Storm C: 10 steps but weak winds for all but 3 of them.
  for (int s = 0; s < 10; ++s) c.push_back(cand(s, 30, 300 + 0.5 * s, s < 3 ? 25 : 10));
  std::reverse(c.begin(), c.end());  // order must not matter
  auto tracks = stitch_tracks(c, six_hourly(12), TrackParams{});
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_EQ(tracks[0].points.size(), 12u);
  EXPECT_DOUBLE_EQ(tracks[0].wind_duration_days, 12 * 0.25);
  EXPECT_DOUBLE_EQ(tracks[0].points.front().lon, 150);
  EXPECT_DOUBLE_EQ(tracks[0].points.back().lon, 139);

  TrackParams lax;
  lax.min_wind_duration_days = 0.5;
  auto more = stitch_tracks(c, six_hourly(12), lax);
  ASSERT_EQ(more.size(), 3u);
  // Ids follow genesis: A and C start at step 0 (A further south), B at step 3.
  EXPECT_DOUBLE_EQ(more[0].points[0].lat, 15);
  EXPECT_DOUBLE_EQ(more[1].points[0].lat, 30);
  EXPECT_DOUBLE_EQ(more[2].points[0].lat, -12);
  EXPECT_DOUBLE_EQ(more[1].wind_duration_days, 0.75);
}

TEST(TcTracks, TracksCutByTheArchiveEdgesNeedLessDuration) {
  // Storm D lives 4 steps (1 day of wind) at the end of a 12-step archive: its real life is unknown.
  std::vector<TcCandidate> c;
  for (int s = 8; s < 12; ++s) c.push_back(cand(s, 20, 130 - 1.0 * s));
  for (int s = 4; s < 8; ++s) c.push_back(cand(s, -20, 60));  // the same, inside the archive: dropped
  auto tracks = stitch_tracks(c, six_hourly(12), TrackParams{});
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_EQ(tracks[0].points.front().step, 8);
  TrackParams teca;
  teca.min_censored_wind_duration_days = teca.min_wind_duration_days;
  EXPECT_TRUE(stitch_tracks(c, six_hourly(12), teca).empty());
}

TEST(TcTracks, NearestWinsAndJumpsAndGapsBreakTracks) {
  std::vector<TcCandidate> c = {cand(0, 20, 100), cand(1, 20, 101), cand(1, 20, 100.5), cand(2, 20, 110)};
  // 10° in 6 h is 4450 km/day: too fast; the nearest of the two step-1 candidates is taken.
  TrackParams any;
  any.min_wind_duration_days = 0;
  auto t = stitch_tracks(c, six_hourly(3), any);
  ASSERT_EQ(t.size(), 1u);
  ASSERT_EQ(t[0].points.size(), 2u);
  EXPECT_DOUBLE_EQ(t[0].points[1].lon, 100.5);
  // A step without candidates ends the track.
  std::vector<TcCandidate> gap = {cand(0, 20, 100), cand(2, 20, 100.5), cand(3, 20, 101)};
  auto tg = stitch_tracks(gap, six_hourly(4), any);
  ASSERT_EQ(tg.size(), 1u);
  EXPECT_EQ(tg[0].points.front().step, 2);
  // No linking across the equator.
  std::vector<TcCandidate> eq = {cand(0, 0.3, 100), cand(1, -0.3, 100)};
  EXPECT_TRUE(stitch_tracks(eq, six_hourly(2), any).empty());
}

TEST(TcTracks, CsvHasOneRowPerPoint) {
  std::vector<TcCandidate> c;
  for (int s = 0; s < 9; ++s) c.push_back(cand(s, 15, 150 - s));
  auto tracks = stitch_tracks(c, six_hourly(9), TrackParams{});
  ASSERT_EQ(tracks.size(), 1u);
  std::vector<std::string> iso(9, "2000-01-01T00:00:00");
  std::ostringstream os;
  write_tracks_csv(os, tracks, iso);
  const std::string s = os.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 10);
  EXPECT_EQ(s.rfind("track_id,step,time,lat,lon,psl_min_pa", 0), 0u);
  EXPECT_NE(s.find("\n0,8,2000-01-01T00:00:00,15.0000,142.0000,"), std::string::npos) << s;
}

TEST(TcMask, CoversTheStormAndOnlyNearIt) {
  Weather w(geo::Grid::centred(180, 360));
  w.add_vortex(18, 140);
  w.add_vortex(-20, 30);
  w.derive();
  std::vector<uint8_t> mask(size_t(w.grid.size()), 0);
  tc_mask(w.grid, {.tmq = w.tmq, .wind = w.wind, .precip = w.precip}, {{18, 140}, {-20, 30}}, TcMaskParams{}, mask, 1);
  auto at = [&](double lat, double lon) {
    return mask[size_t(int64_t(geo::fractional_row(w.grid, lat) + 0.5) * 360 +
                       int64_t(geo::fractional_column(w.grid, lon) + 0.5))];
  };
  EXPECT_EQ(at(18, 140), 1);
  EXPECT_EQ(at(-20, 30), 1);
  EXPECT_EQ(at(18, 160), 0);
  EXPECT_EQ(at(0, 0), 0);
  // Box of ±(radius + 3°) at 93%: the union of three 7% tails, so a few percent of the box.
  const double cells = std::count(mask.begin(), mask.end(), 1);
  EXPECT_GT(cells, 10);
  EXPECT_LT(cells, 2 * 0.21 * 25 * 25);
}

TEST(TcMask, PercentileMatchesNumpy) {
  // numpy.percentile([1..10], 93) = 1 + 0.93 · 9 = 9.37.
  std::vector<float> v = {10, 3, 1, 7, 2, 9, 4, 8, 6, 5};
  EXPECT_NEAR(percentile(v, 93), 9.37, 1e-5);
  std::vector<float> one = {4};
  EXPECT_DOUBLE_EQ(percentile(one, 93), 4);
}

TEST(TcTracks, MaxGapBridgesStepsWithinTheReachOfTheWholeInterval) {
  TrackParams any;
  any.min_wind_duration_days = 0;
  // Step 1 has no candidate: with max_gap_steps = 1 the track goes on to step 2, within 1600 km/day
  // times the 12 h from step 0 (800 km): 6° of longitude at 20°N is 627 km.
  std::vector<TcCandidate> gap = {cand(0, 20, 100), cand(2, 20, 106), cand(3, 20, 107)};
  EXPECT_EQ(stitch_tracks(gap, six_hourly(4), any).size(), 1u);  // TECA: steps 2..3 only
  EXPECT_EQ(stitch_tracks(gap, six_hourly(4), any)[0].points.size(), 2u);
  TrackParams bridge = any;
  bridge.max_gap_steps = 1;
  auto t = stitch_tracks(gap, six_hourly(4), bridge);
  ASSERT_EQ(t.size(), 1u);
  ASSERT_EQ(t[0].points.size(), 3u);
  EXPECT_EQ(t[0].points[1].step, 2);
  // 9° (941 km) is beyond 800 km: not bridged; nor is a gap of two steps with max_gap_steps = 1.
  std::vector<TcCandidate> far = {cand(0, 20, 100), cand(2, 20, 109), cand(3, 20, 110)};
  EXPECT_EQ(stitch_tracks(far, six_hourly(4), bridge)[0].points.front().step, 2);
  std::vector<TcCandidate> two = {cand(0, 20, 100), cand(3, 20, 101), cand(4, 20, 102)};
  EXPECT_EQ(stitch_tracks(two, six_hourly(5), bridge)[0].points.front().step, 3);
  bridge.max_gap_steps = 2;
  EXPECT_EQ(stitch_tracks(two, six_hourly(5), bridge)[0].points.size(), 3u);
  // The next step is preferred when it has a candidate in reach, even if a later one is nearer.
  std::vector<TcCandidate> both = {cand(0, 20, 100), cand(1, 20, 102), cand(2, 20, 100.1)};
  auto tb = stitch_tracks(both, six_hourly(3), bridge);
  ASSERT_EQ(tb.size(), 1u);
  EXPECT_EQ(tb[0].points.size(), 3u);
  EXPECT_EQ(tb[0].points[1].step, 1);
  bridge.max_gap_steps = -1;
  EXPECT_THROW(stitch_tracks(both, six_hourly(3), bridge), UsageError);
}
