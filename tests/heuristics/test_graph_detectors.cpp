// Detectors on unstructured grids: the closed-contour measure on hand-made fields (a cone of known
// slope, a field open on one side, missing values), components over neighbours, and the synthetic
// world sampled at ne30np4 columns: the same fields as on its lat-lon grid at the same points, and
// cyclone tracks found on the columns against the planted truth (recall >= 0.95, precision >= 0.90
// within 2°) and against the lat-lon detector on the same world at 1° (recall within 0.03).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "analysis/graph_components.hpp"
#include "core/error.hpp"
#include "geo/cubed_sphere.hpp"
#include "geo/sphere.hpp"
#include "models/heuristics/graph_detectors.hpp"
#include "models/heuristics/pipeline.hpp"
#include "models/heuristics/tc_tracks.hpp"
#include "models/synth/synth.hpp"

using namespace climseg;
using namespace climseg::heuristics;

namespace {

const geo::UnstructuredGrid& ne30() {
  static const geo::UnstructuredGrid g = geo::cubed_sphere_grid(*geo::parse_cubed_sphere("ne30np4"));
  return g;
}

double degrees_apart(double lat1, double lon1, double lat2, double lon2) {
  return geo::great_circle_m(lat1, lon1, lat2, lon2) / (geo::kEarthRadius * geo::kDegToRad);
}

// Distance in degrees of every column from (lat0, lon0).
std::vector<float> distance_field(const geo::UnstructuredGrid& g, double lat0, double lon0) {
  std::vector<float> f(size_t(g.size()));
  for (int64_t i = 0; i < g.size(); ++i)
    f[size_t(i)] = float(degrees_apart(lat0, lon0, g.lat[size_t(i)], g.lon[size_t(i)]));
  return f;
}

int64_t nearest(const geo::UnstructuredGrid& g, double lat, double lon) {
  int64_t best = 0;
  double d = 1e9;
  for (int64_t i = 0; i < g.size(); ++i) {
    const double x = degrees_apart(lat, lon, g.lat[size_t(i)], g.lon[size_t(i)]);
    if (x < d) d = x, best = i;
  }
  return best;
}

struct Score {
  int64_t planted = 0, planted_matched = 0, detected = 0, detected_matched = 0;
  double recall() const { return double(planted_matched) / double(std::max<int64_t>(1, planted)); }
  double precision() const { return double(detected_matched) / double(std::max<int64_t>(1, detected)); }
};

Score score(const std::map<int64_t, std::vector<synth::LatLon>>& truth, const std::vector<TcTrack>& tracks) {
  std::map<int64_t, std::vector<synth::LatLon>> found;
  for (const auto& t : tracks)
    for (const auto& p : t.points) found[p.step].push_back({p.lat, p.lon});
  auto near = [](const synth::LatLon& p, const std::vector<synth::LatLon>& others) {
    for (const auto& q : others)
      if (degrees_apart(p.lat, p.lon, q.lat, q.lon) <= 2.0) return true;
    return false;
  };
  Score s;
  for (const auto& [step, pts] : truth)
    for (const auto& p : pts) {
      ++s.planted;
      s.planted_matched += found.count(step) && near(p, found.at(step));
    }
  for (const auto& [step, pts] : found)
    for (const auto& p : pts) {
      ++s.detected;
      s.detected_matched += truth.count(step) && near(p, truth.at(step));
    }
  return s;
}

}  // namespace

TEST(GraphDetectors, ClosedContourOfAConeIsItsRiseAtTheRadius) {
  const auto& g = ne30();
  // f = 100 x (degrees from a column): the rise closes at the radius, so the measure is the rise of
  // the lowest column just inside it, between 100 x (r − longest edge) and 100 x r.
  const int64_t c = nearest(g, 20.0, 140.0);
  const double lat0 = g.lat[size_t(c)], lon0 = g.lon[size_t(c)];
  const std::vector<float> f = distance_field(g, lat0, lon0);
  std::vector<float> cone(f.size());
  for (size_t k = 0; k < f.size(); ++k) cone[k] = 100.0f * f[k];
  const double d = closed_contour(g, cone, c, 5.0, false);
  EXPECT_GT(d, 100.0 * (5.0 - 1.5));
  EXPECT_LE(d, 100.0 * 5.0);
  // The same cone upside down is a closed fall.
  std::vector<float> hill(f.size());
  for (size_t k = 0; k < f.size(); ++k) hill[k] = -cone[k];
  EXPECT_NEAR(closed_contour(g, hill, c, 5.0, true), d, 1e-3);
  // Starting beside the minimum, minmax_radius finds it first.
  const int64_t beside = g.neighbours_of(c)[0];
  EXPECT_NEAR(closed_contour(g, cone, beside, 5.0, false, 2.0), d, 1e-3);
  // Open to the east: a trough running east from the minimum leaves the radius at its own depth.
  std::vector<float> trough = cone;
  for (int64_t i = 0; i < g.size(); ++i) {
    const double dlat = g.lat[size_t(i)] - lat0, dlon = std::remainder(g.lon[size_t(i)] - lon0, 360.0);
    if (std::abs(dlat) < 1.2 && dlon > 0 && dlon < 12) trough[size_t(i)] = std::min(trough[size_t(i)], 30.0f);
  }
  EXPECT_NEAR(closed_contour(g, trough, c, 5.0, false), 30.0, 1e-3);
  // Missing values never close a contour: a corridor of NaN from 1° out leaves it open at the
  // corridor's mouth.
  std::vector<float> holed = cone;
  for (int64_t i = 0; i < g.size(); ++i) {
    const double dlat = g.lat[size_t(i)] - lat0, dlon = std::remainder(g.lon[size_t(i)] - lon0, 360.0);
    if (std::abs(dlat) < 1.2 && dlon > 1.0 && dlon < 12) holed[size_t(i)] = NAN;
  }
  EXPECT_LE(closed_contour(g, holed, c, 5.0, false), 100.0 * 1.6);
}

TEST(GraphDetectors, ComponentsOverNeighbours) {
  const auto& g = ne30();
  // Two caps of 5° and a single column: three components; areas against the caps' spherical areas.
  const std::vector<float> a = distance_field(g, 40, 10), b = distance_field(g, -30, 200);
  std::vector<uint8_t> mask(size_t(g.size()));
  for (size_t k = 0; k < mask.size(); ++k) mask[k] = a[k] <= 5.0f || b[k] <= 5.0f;
  const int64_t lone = nearest(g, 0, 90);
  mask[size_t(lone)] = 1;
  const auto labels = analysis::label_components(g, mask);
  ASSERT_EQ(labels.count, 3);
  const auto stats = analysis::component_stats(g, labels);
  const double cap_km2 = 2 * geo::kPi * std::pow(geo::kEarthRadius / 1e3, 2) * (1 - std::cos(5 * geo::kDegToRad));
  for (const auto& s : stats) {
    if (s.cells == 1) continue;
    EXPECT_NEAR(s.area_km2 / cap_km2, 1.0, 0.08);
    EXPECT_NEAR(s.length_km, 10 * geo::kDegToRad * geo::kEarthRadius / 1e3, 250);
    const bool north = s.centroid_lat > 0;
    EXPECT_NEAR(s.centroid_lat, north ? 40 : -30, 0.3);
    EXPECT_NEAR(std::remainder(s.centroid_lon - (north ? 10 : 200), 360.0), 0, 0.3);
  }
  EXPECT_THROW(analysis::label_components(g, std::vector<uint8_t>(3)), Error);
}

TEST(GraphDetectors, SynthColumnsAreTheLatLonWorldAtTheSamePoints) {
  // Columns placed at the lat-lon grid's own points give that grid's fields (float rounding aside).
  synth::SynthConfig c;
  c.height = 96;
  c.width = 144;
  c.steps = 4;
  c.seed = 7;
  const synth::World world(c);
  std::vector<double> lat, lon;
  const geo::Grid& ll = world.grid();
  for (int64_t i = 1; i < ll.height() - 1; ++i)  // the pole rows are one point each on the sphere
    for (int64_t j = 0; j < ll.width(); ++j) {
      lat.push_back(ll.lat[size_t(i)]);
      lon.push_back(ll.lon[size_t(j)]);
    }
  const geo::UnstructuredGrid cols = geo::UnstructuredGrid::from_nodes(lat, lon);
  synth::StepFields a, b;
  world.generate(3, a);
  world.generate_columns(3, cols, b);
  const int64_t W = ll.width(), N = cols.size();
  for (int ch = 0; ch < synth::kChannelCount; ++ch) {
    double worst = 0, scale = 0;
    for (int64_t n = 0; n < N; ++n) {
      const double x = a.fields[ch * ll.size() + W + n], y = b.fields[ch * N + n];
      worst = std::max(worst, std::abs(x - y));
      scale = std::max(scale, std::abs(x));
    }
    EXPECT_LE(worst, 2e-5 * scale + 1e-12) << synth::cam5_channels()[size_t(ch)].name;
  }
  int64_t differ = 0;
  for (int64_t n = 0; n < N; ++n) differ += a.labels[W + n] != b.labels[n];
  EXPECT_LE(differ, 2) << "labels";
  ASSERT_EQ(a.cyclones.size(), b.cyclones.size());
  for (size_t k = 0; k < a.cyclones.size(); ++k) {
    EXPECT_NEAR(a.cyclones[k].psl_min_pa, b.cyclones[k].psl_min_pa, 1.0);
    EXPECT_EQ(a.cyclones[k].cells, b.cyclones[k].cells);
  }
}

TEST(GraphDetectors, CycloneTracksOnNe30np4AgainstPlantedTruthAndLatLon) {
  // 48 six-hourly steps, seed 1: the world at ne30np4's columns and on its 1° lat-lon grid (181x360).
  synth::SynthConfig c;
  c.height = 181;
  c.width = 360;
  c.steps = 48;
  c.hours = 6;
  c.seed = 1;
  const synth::World world(c);
  const auto& g = ne30();
  std::vector<double> times;
  std::map<int64_t, std::vector<synth::LatLon>> truth;
  std::vector<TcCandidate> on_columns, on_latlon;
  GraphTcParams gp;
  DetectConfig dc;
  synth::StepFields s;
  const int64_t N = g.size(), HW = world.grid().size();
  for (int64_t step = 0; step < c.steps; ++step) {
    const double t = world.hours_at(step) / 24.0;
    times.push_back(t);
    world.generate_columns(step, g, s);
    for (const auto& cy : s.cyclones) truth[step].push_back(cy.state.centre);
    auto plane = [&](int ch, int64_t n) { return std::span<const float>(s.fields.data() + ch * n, size_t(n)); };
    std::vector<float> wind(static_cast<size_t>(N)), warm(static_cast<size_t>(N)), thick(static_cast<size_t>(N));
    geo::wind_speed(plane(synth::kUBOT, N), plane(synth::kVBOT, N), wind);
    geo::mean_of_two(plane(synth::kT200, N), plane(synth::kT500, N), warm);
    geo::difference(plane(synth::kZ200, N), plane(synth::kZ1000, N), thick);
    auto found = detect_tc_candidates(g, {plane(synth::kPSL, N), wind, warm, thick}, gp, step, t);
    on_columns.insert(on_columns.end(), found.begin(), found.end());

    world.generate(step, s);
    StepFields f;
    f.grid = &world.grid();
    const char* roles[] = {"u850", "v850", "psl", "ubot", "vbot", "t200", "t500", "z200", "z1000"};
    const int chans[] = {synth::kU850, synth::kV850, synth::kPSL,  synth::kUBOT, synth::kVBOT,
                         synth::kT200, synth::kT500, synth::kZ200, synth::kZ1000};
    for (int k = 0; k < 9; ++k) f.planes[roles[k]] = plane(chans[k], HW);
    auto ll = step_candidates(f, dc, step, t);
    on_latlon.insert(on_latlon.end(), ll.begin(), ll.end());
  }
  const Score cols = score(truth, stitch_tracks(on_columns, times, dc.tracks));
  const Score ll = score(truth, stitch_tracks(on_latlon, times, dc.tracks));
  std::printf("ne30np4 columns: planted %lld, recall %.3f, precision %.3f (detected %lld)\n", (long long)cols.planted,
              cols.recall(), cols.precision(), (long long)cols.detected);
  std::printf("1x1 deg lat-lon: planted %lld, recall %.3f, precision %.3f (detected %lld)\n", (long long)ll.planted,
              ll.recall(), ll.precision(), (long long)ll.detected);
  ASSERT_GT(cols.planted, 150);
  EXPECT_GE(cols.recall(), 0.95);
  EXPECT_GE(cols.precision(), 0.90);
  EXPECT_LE(std::abs(cols.recall() - ll.recall()), 0.03);
}
