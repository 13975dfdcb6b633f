// The canonical grid: construction, cell areas on the sphere, great-circle distances.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "geo/grid.hpp"

using namespace climseg::geo;

TEST(Grid, CamGridSpansPoleToPole) {
  Grid g = Grid::cam(768, 1152);
  EXPECT_DOUBLE_EQ(g.lat.front(), -90.0);
  EXPECT_DOUBLE_EQ(g.lat.back(), 90.0);
  EXPECT_DOUBLE_EQ(g.lon[1], 0.3125);
  EXPECT_TRUE(g.periodic);
  EXPECT_DOUBLE_EQ(g.dlon(), 0.3125);
  EXPECT_EQ(g.shape_str(), "768x1152");
}

TEST(Grid, CellAreasSumToTheSphere) {
  for (auto g : {Grid::cam(96, 144), Grid::centred(180, 360), Grid::cam(7, 5)}) {
    auto rows = g.row_areas();
    double total = std::accumulate(rows.begin(), rows.end(), 0.0) * double(g.width());
    EXPECT_NEAR(total / (4 * kPi * kEarthRadius * kEarthRadius), 1.0, 1e-12) << g.shape_str();
  }
}

TEST(Grid, EquatorialCellAreaByHand) {
  // The 1°x1° cell from the equator to 1°N: R² · (π/180) · (sin 1° − sin 0°).
  Grid g = Grid::centred(180, 360);
  double expected = kEarthRadius * kEarthRadius * (kPi / 180) * std::sin(1.0 * kPi / 180);
  EXPECT_NEAR(g.row_areas()[90] / expected, 1.0, 1e-12);
}

TEST(Grid, GreatCircleDistances) {
  EXPECT_NEAR(great_circle_m(0, 0, 0, 90), kPi / 2 * kEarthRadius, 1e-6);
  EXPECT_NEAR(great_circle_m(-90, 0, 90, 0), kPi * kEarthRadius, 1e-6);
  // Across the date line: 1° of longitude at the equator.
  EXPECT_NEAR(great_circle_m(0, 359.5, 0, 0.5), kPi / 180 * kEarthRadius, 1e-6);
}
