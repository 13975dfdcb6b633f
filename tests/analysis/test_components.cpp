// Connected components on the sphere: connectivity, the periodic seam, true areas, centroids, boxes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "analysis/components.hpp"
#include "core/error.hpp"

using namespace climseg;
using namespace climseg::analysis;

namespace {

struct Mask {
  const geo::Grid& g;
  std::vector<uint8_t> m;
  explicit Mask(const geo::Grid& grid) : g(grid), m(size_t(grid.size()), 0) {}
  void set(int64_t i, int64_t j) { m[size_t(i * g.width() + j)] = 1; }
  void box(int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    for (int64_t i = i0; i <= i1; ++i)
      for (int64_t j = j0; j <= j1; ++j) set(i, (j + g.width()) % g.width());
  }
};

constexpr double kSphereKm2 = 4 * geo::kPi * geo::kEarthRadius * geo::kEarthRadius * 1e-6;

}  // namespace

TEST(Components, WholeSphereIsOneComponentWithTheSphereArea) {
  for (auto g : {geo::Grid::cam(96, 144), geo::Grid::centred(45, 90)}) {
    Mask m(g);
    m.box(0, g.height() - 1, 0, g.width() - 1);
    auto labels = label_components(g, m.m);
    ASSERT_EQ(labels.count, 1);
    auto st = component_stats(g, labels, {.length = false});
    EXPECT_NEAR(st[0].area_km2 / kSphereKm2, 1.0, 1e-12);
    EXPECT_NEAR(st[0].area_km2, 510'099'699.0, 1.0);  // 4πR² for R = 6371.22 km (510,064,472 is R = 6371.0)
    EXPECT_EQ(st[0].cells, g.size());
  }
}

TEST(Components, AreasOfHemispheresAndBands) {
  // The northern half of a cell-centred grid is exactly a hemisphere: 2πR².
  auto g = geo::Grid::centred(90, 180);
  Mask m(g);
  m.box(45, 89, 0, 179);
  auto st = component_stats(g, label_components(g, m.m), {.length = false});
  ASSERT_EQ(st.size(), 1u);
  EXPECT_NEAR(st[0].area_km2 / (kSphereKm2 / 2), 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(st[0].centroid_lat, 90.0);  // the mean of a polar cap's unit vectors is the pole
  // One 2°x2° cell from the equator to 2°N: R² (2π/180) sin 2°.
  Mask one(g);
  one.set(45, 10);
  auto cell = component_stats(g, label_components(g, one.m), {.length = false});
  const double R = geo::kEarthRadius * 1e-3;
  EXPECT_NEAR(cell[0].area_km2, R * R * (2 * geo::kPi / 180) * std::sin(2 * geo::kDegToRad), 1e-6);
}

TEST(Components, WrapAcrossTheDateLine) {
  auto g = geo::Grid::centred(18, 36);  // 10° cells, lon 0, 10, ..., 350
  Mask m(g);
  m.box(8, 9, 34, 37);  // columns 34, 35, 0, 1: lon 340..10, lat −5..5
  auto labels = label_components(g, m.m);
  ASSERT_EQ(labels.count, 1);
  auto st = component_stats(g, labels);
  EXPECT_EQ(st[0].cells, 8);
  EXPECT_NEAR(st[0].centroid_lat, 0.0, 1e-9);
  // Symmetric about 355°: the centroid is on the seam, not at 180°.
  EXPECT_NEAR(st[0].centroid_lon, 355.0, 1e-9);
  EXPECT_DOUBLE_EQ(st[0].lon_west, 340.0);
  EXPECT_DOUBLE_EQ(st[0].lon_east, 10.0);
  EXPECT_DOUBLE_EQ(st[0].lat_min, -5.0);
  EXPECT_DOUBLE_EQ(st[0].lat_max, 5.0);

  // A regional (non-periodic) grid with the same mask has two pieces.
  auto regional = g;
  regional.periodic = false;
  EXPECT_EQ(label_components(regional, m.m).count, 2);
}

TEST(Components, DiagonalsConnectOnlyWithEightConnectivity) {
  auto g = geo::Grid::centred(10, 20);
  Mask m(g);
  m.set(2, 3);
  m.set(3, 4);
  m.set(5, 19);  // diagonal across the seam
  m.set(6, 0);
  EXPECT_EQ(label_components(g, m.m, Connectivity::eight).count, 2);
  EXPECT_EQ(label_components(g, m.m, Connectivity::four).count, 4);
}

TEST(Components, PolesAreNotNeighbours) {
  auto g = geo::Grid::cam(10, 20);
  Mask m(g);
  m.box(0, 0, 0, 19);
  m.box(9, 9, 0, 19);
  EXPECT_EQ(label_components(g, m.m).count, 2);
}

TEST(Components, IdsFollowRasterOrderAndUShapesMerge) {
  auto g = geo::Grid::centred(10, 20);
  Mask m(g);
  // A U shape: two arms that only join at the bottom row, found after both arms started.
  m.box(5, 8, 10, 10);
  m.box(5, 8, 14, 14);
  m.box(4, 4, 10, 14);
  m.set(1, 1);  // first in raster order: id 1
  auto labels = label_components(g, m.m);
  ASSERT_EQ(labels.count, 2);
  EXPECT_EQ(labels.labels[1 * 20 + 1], 1);
  EXPECT_EQ(labels.labels[8 * 20 + 10], 2);
  EXPECT_EQ(labels.labels[8 * 20 + 14], 2);

  auto st = component_stats(g, labels, {.length = false});
  EXPECT_EQ(largest_component(st), 2);
  filter_components(labels, {false, false, true});
  EXPECT_EQ(labels.count, 1);
  EXPECT_EQ(labels.labels[1 * 20 + 1], 0);
  EXPECT_EQ(labels.labels[4 * 20 + 12], 1);
}

TEST(Components, LengthWidthAndPeak) {
  // One row on the equator of a 1° grid from lon 10 to 50: the length is 40° of a great circle.
  auto g = geo::Grid::cam(181, 360);
  Mask m(g);
  m.box(90, 90, 10, 50);
  std::vector<float> field(size_t(g.size()), 0.0f);
  field[90 * 360 + 33] = 7.0f;
  field[90 * 360 + 20] = -3.0f;
  auto labels = label_components(g, m.m);
  auto st = component_stats(g, labels, {.field = field});
  ASSERT_EQ(st.size(), 1u);
  EXPECT_NEAR(st[0].length_km, 40 * geo::kDegToRad * geo::kEarthRadius * 1e-3, 1e-6);
  EXPECT_NEAR(st[0].width_km, st[0].area_km2 / st[0].length_km, 1e-9);
  EXPECT_TRUE(st[0].has_peak);
  EXPECT_DOUBLE_EQ(st[0].peak_value, 7.0);
  EXPECT_DOUBLE_EQ(st[0].peak_lon, 33.0);
  auto mins = component_stats(g, labels, {.field = field, .peak_is_minimum = true});
  EXPECT_DOUBLE_EQ(mins[0].peak_value, -3.0);
  EXPECT_DOUBLE_EQ(mins[0].peak_lon, 20.0);
  // Invalid cells are skipped.
  std::vector<float> valid(size_t(g.size()), 1.0f);
  valid[90 * 360 + 33] = 0.0f;
  auto masked = component_stats(g, labels, {.field = field, .valid = valid});
  EXPECT_DOUBLE_EQ(masked[0].peak_value, 0.0);
}

TEST(Components, BadSizesAreErrors) {
  auto g = geo::Grid::cam(10, 20);
  std::vector<uint8_t> m(199);
  EXPECT_THROW(label_components(g, m), Error);
}
