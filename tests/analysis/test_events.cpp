// Events: linking components over time by overlap and distance, splits and merges, filters,
// the compact form sent between ranks, and the summary statistics.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "analysis/events.hpp"
#include "analysis/summary.hpp"
#include "core/error.hpp"

using namespace climseg;
using namespace climseg::analysis;

namespace {

// A sequence of class maps on a 5° grid, described and linked like `climseg events` does.
struct Movie {
  geo::Grid g = geo::Grid::centred(36, 72);
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint8_t>& frame() {
    frames.emplace_back(size_t(g.size()), 0);
    return frames.back();
  }
  void box(std::vector<uint8_t>& f, int64_t i0, int64_t i1, int64_t j0, int64_t j1, uint8_t cls) {
    for (int64_t i = i0; i <= i1; ++i)
      for (int64_t j = j0; j <= j1; ++j) f[size_t(i * 72 + (j + 72) % 72)] = cls;
  }
  std::vector<StepObjects> steps(std::vector<int64_t> step_ids = {}) const {
    std::vector<StepObjects> out;
    ClassComponents prev;
    for (size_t t = 0; t < frames.size(); ++t) {
      const int64_t s = step_ids.empty() ? int64_t(t) : step_ids[t];
      ClassComponents now = label_classes(g, frames[t]);
      const bool linked = t > 0 && (step_ids.empty() || step_ids[t] == step_ids[t - 1] + 1);
      out.push_back(describe_step(g, now, linked ? &prev : nullptr, s, 0.25 * double(s),
                                  fmt::format("2001-01-0{}T{:02d}:00:00", 1 + s / 4, 6 * (s % 4)), {}));
      prev = std::move(now);
    }
    return out;
  }
  std::vector<Event> link(LinkParams p = {}, std::vector<int64_t> ids = {}) const {
    EventLinker linker(p);
    for (const auto& s : steps(ids)) linker.add(s);
    linker.finish();
    return linker.take_finished();
  }
};

}  // namespace

TEST(Events, MovingBlobIsOneEventWithPathAndSpeed) {
  Movie m;
  for (int t = 0; t < 5; ++t) m.box(m.frame(), 20, 22, 10 + 2 * t, 13 + 2 * t, 2);  // 10° east per step at 12.5°N
  auto ev = m.link();
  ASSERT_EQ(ev.size(), 1u);
  const Event& e = ev[0];
  EXPECT_EQ(e.cls, 2);
  EXPECT_EQ(e.points.size(), 5u);
  EXPECT_DOUBLE_EQ(e.lifetime_days(), 1.0);
  // Four moves of 10° of longitude at the centroid's latitude (near 17.5°, the middle row).
  EXPECT_NEAR(e.points[0].lat, 17.5, 0.1);
  EXPECT_DOUBLE_EQ(e.points[0].lon, 57.5);  // columns 10..13 at 50..65°E
  const double hop = geo::great_circle_m(e.points[0].lat, 60, e.points[0].lat, 70) * 1e-3;
  EXPECT_NEAR(e.path_km(), 4 * hop, 1e-6 * hop);
  EXPECT_NEAR(e.mean_speed_m_s(), 4 * hop * 1e3 / 86400, 1e-6);
  EXPECT_EQ(e.id, 1);
  EXPECT_EQ(e.split_from, 0);
  EXPECT_EQ(e.merged_into, 0);
  EXPECT_EQ(e.points.front().time_iso, "2001-01-01T00:00:00");
}

TEST(Events, CrossingTheDateLineKeepsTheEvent) {
  Movie m;
  for (int t = 0; t < 4; ++t) m.box(m.frame(), 10, 11, 68 + 2 * t, 71 + 2 * t, 1);
  auto ev = m.link();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].points.size(), 4u);
  // Columns 70..73 (350, 355, 0, 5 °E) at step 1, 0..3 at step 2.
  EXPECT_NEAR(ev[0].points[1].lon, 357.5, 1e-9);
  EXPECT_NEAR(ev[0].points[2].lon, 7.5, 1e-9);
}

TEST(Events, SplitsAndMerges) {
  Movie m;
  // t0: one wide blob; t1: it splits into a big western and a small eastern piece.
  m.box(m.frame(), 20, 23, 10, 25, 2);
  auto& f1 = m.frame();
  m.box(f1, 20, 23, 10, 19, 2);
  m.box(f1, 20, 23, 23, 25, 2);
  // t2: the two pieces merge again.
  m.box(m.frame(), 20, 23, 10, 25, 2);
  auto ev = m.link();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].points.size(), 3u);  // the main event continues through the big piece
  EXPECT_EQ(ev[1].points.size(), 1u);  // the eastern piece lives one step
  EXPECT_EQ(ev[1].split_from, ev[0].id);
  EXPECT_EQ(ev[1].merged_into, ev[0].id);
}

TEST(Events, CyclonesLinkByDistanceRiversDoNot) {
  Movie m;
  // Small blobs that jump 3 cells (15° ≈ 1650 km at 10°N) per 6 h without overlapping: far too fast
  // for 1600 km/day; and 1-cell hops of 5° (~550 km per 6 h = 2200 km/day) are too fast as well,
  // so use a 10000 km/day limit for the test.
  for (int t = 0; t < 3; ++t) {
    auto& f = m.frame();
    m.box(f, 20, 20, 10 + 2 * t, 10 + 2 * t, 1);
    m.box(f, 28, 28, 40 + 2 * t, 40 + 2 * t, 2);
  }
  LinkParams p;
  p.max_speed_km_per_day = 10000;
  auto ev = m.link(p);
  ASSERT_EQ(ev.size(), 4u);  // one cyclone event + three one-step river events
  int cyclone_points = 0;
  for (const auto& e : ev)
    if (e.cls == 1) cyclone_points = int(e.points.size());
  EXPECT_EQ(cyclone_points, 3);
  p.max_speed_km_per_day = 1600;
  EXPECT_EQ(m.link(p).size(), 6u);
}

TEST(Events, FiltersAndKeptBits) {
  Movie m;
  for (int t = 0; t < 4; ++t) {
    auto& f = m.frame();
    m.box(f, 10, 12, 10, 12, 2);             // lives 4 steps, 9 cells
    if (t < 2) m.box(f, 25, 25, 40, 40, 2);  // lives 2 steps, 1 cell
  }
  LinkParams p;
  p.min_steps = 3;
  EventLinker linker(p);
  std::vector<std::vector<int64_t>> ids;
  for (const auto& s : m.steps()) ids.push_back(linker.add(s));
  linker.finish();
  auto ev = linker.take_finished();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(linker.kept(ids[0][0]));
  EXPECT_FALSE(linker.kept(ids[0][1]));
  EXPECT_EQ(linker.events_started(), 2);
  EXPECT_EQ(linker.events_kept(), 1);

  LinkParams by_area;
  by_area.min_area_km2 = 1e6;  // 9 cells of 5° near 40°S are ~2.5e6 km²; one cell is ~2.3e5
  EXPECT_EQ(m.link(by_area).size(), 1u);
  LinkParams bad;
  bad.min_steps = 0;
  EXPECT_THROW(EventLinker{bad}, UsageError);
}

TEST(Events, AMissingStepEndsEvents) {
  Movie m;
  for (int t = 0; t < 4; ++t) m.box(m.frame(), 10, 12, 10, 12, 2);
  auto ev = m.link({}, {0, 1, 3, 4});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].points.size(), 2u);
  EXPECT_EQ(ev[1].points.front().step, 3);
}

TEST(Events, StepsSurviveTheTextForm) {
  Movie m;
  m.box(m.frame(), 20, 23, 10, 25, 2);
  auto& f = m.frame();
  m.box(f, 20, 23, 12, 27, 2);
  m.box(f, 5, 6, 70, 73, 1);
  const auto steps = m.steps();
  const auto back = deserialize_steps(serialize_steps(steps));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].stats.size(), steps[1].stats.size());
  EXPECT_EQ(back[1].cls, steps[1].cls);
  EXPECT_EQ(back[1].overlaps.size(), 1u);
  EXPECT_EQ(back[1].overlaps[0].cells, steps[1].overlaps[0].cells);
  EXPECT_DOUBLE_EQ(back[1].stats[1].centroid_lon, steps[1].stats[1].centroid_lon);
  EXPECT_DOUBLE_EQ(back[1].stats[0].area_km2, steps[1].stats[0].area_km2);
  EXPECT_EQ(back[0].time_iso, steps[0].time_iso);
  EXPECT_FALSE(back[0].has_prev);
  EXPECT_TRUE(back[1].has_prev);
  EXPECT_THROW(deserialize_steps("X 1 2"), Error);
}

TEST(EventSummary, CountsHistogramsAndGenesis) {
  SummaryParams p;
  p.class_names = {"background", "tropical_cyclone", "atmospheric_river"};
  EventSummary sum(p);
  auto make = [](uint8_t cls, double lat, double lon, double days, const char* iso) {
    Event e;
    e.cls = cls;
    TrackPoint a, b;
    a.lat = lat;
    a.lon = lon;
    a.time_iso = iso;
    b.lat = lat;
    b.lon = lon + 1;
    b.time_days = days;
    e.points = {a, b};
    return e;
  };
  sum.add(make(1, 12, 140, 3.0, "1999-08-01T00:00:00"));
  sum.add(make(1, 14, 141, 6.0, "2000-09-01T00:00:00"));
  sum.add(make(2, 40, 200, 0.25, "2000-01-01T00:00:00"));
  const auto j = sum.to_json();
  const auto& tc = j["classes"]["tropical_cyclone"];
  EXPECT_EQ(tc["events"], 2);
  EXPECT_EQ(tc["per_year"]["1999"], 1);
  EXPECT_EQ(tc["per_year"]["2000"], 1);
  // Lifetime bins [0,.5) [.5,1) [1,2) [2,3) [3,5) [5,7) ...: 3 days -> bin 4, 6 days -> bin 5.
  EXPECT_EQ(tc["lifetime_histogram"][4], 1);
  EXPECT_EQ(tc["lifetime_histogram"][5], 1);
  // Both geneses fall in the 5° cell 10..15°N, 140..145°E.
  ASSERT_EQ(tc["genesis_cells"].size(), 1u);
  EXPECT_DOUBLE_EQ(tc["genesis_cells"][0][0].get<double>(), 12.5);
  EXPECT_DOUBLE_EQ(tc["genesis_cells"][0][1].get<double>(), 142.5);
  EXPECT_EQ(tc["genesis_cells"][0][2], 2);
  EXPECT_EQ(j["classes"]["atmospheric_river"]["lifetime_histogram"][0], 1);
  // Density: 2 events over the cell's area, per 10^6 km².
  const auto d = sum.genesis_density(1);
  const double R = geo::kEarthRadius * 1e-3;
  const double area = R * R * 5 * geo::kDegToRad * (std::sin(15 * geo::kDegToRad) - std::sin(10 * geo::kDegToRad));
  EXPECT_NEAR(d[size_t(20 * sum.genesis_cols() + 28)], 2 / area * 1e6, 1e-12);
}
