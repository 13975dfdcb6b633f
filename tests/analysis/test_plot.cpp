// Pictures: the colour map, PNG encoding read back with libpng, what a map shows, coastlines.
#include <gtest/gtest.h>
#include <png.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "analysis/plot.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "test_support.hpp"

using namespace climseg;
using namespace climseg::plot;

namespace {

struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Rgb at(int x, int y) const {
    const size_t k = (size_t(y) * size_t(width) + size_t(x)) * 3;
    return {rgb[k], rgb[k + 1], rgb[k + 2]};
  }
};

// Decodes PNG bytes with libpng's simplified API (an independent path from our encoder).
Decoded decode(const std::string& bytes) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  EXPECT_TRUE(png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()));
  img.format = PNG_FORMAT_RGB;
  Decoded d;
  d.width = int(img.width);
  d.height = int(img.height);
  d.rgb.resize(PNG_IMAGE_SIZE(img));
  EXPECT_TRUE(png_image_finish_read(&img, nullptr, d.rgb.data(), 0, nullptr));
  return d;
}

}  // namespace

TEST(Plot, ViridisEndsAreMatplotlibs) {
  EXPECT_EQ(viridis(0.0), (Rgb{68, 1, 84}));
  EXPECT_EQ(viridis(1.0), (Rgb{253, 231, 37}));
  EXPECT_EQ(viridis(-3.0), viridis(0.0));
  // Lightness grows monotonically (perceptual uniformity's first requirement).
  double prev = -1;
  for (int k = 0; k <= 20; ++k) {
    const Rgb c = viridis(k / 20.0);
    const double y = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
    EXPECT_GT(y, prev);
    prev = y;
  }
}

TEST(Plot, PngRoundTripsThroughLibpng) {
  Image img(31, 17, kWhite);
  img.set(3, 4, {10, 20, 30});
  img.fill_rect(20, 10, 25, 12, {200, 0, 0});
  const Decoded d = decode(img.png_bytes());
  ASSERT_EQ(d.width, 31);
  ASSERT_EQ(d.height, 17);
  EXPECT_EQ(d.at(3, 4), (Rgb{10, 20, 30}));
  EXPECT_EQ(d.at(22, 11), (Rgb{200, 0, 0}));
  EXPECT_EQ(d.at(0, 0), kWhite);

  test::TempDir dir;
  img.write_png(dir / "x.png");
  EXPECT_EQ(read_file(dir / "x.png"), img.png_bytes());
  EXPECT_THROW(img.write_png(dir / "no" / "such" / "dir" / "x.png"), Error);
}

TEST(Plot, TextDrawsInk) {
  Image img(120, 30, kWhite);
  const int w = img.text(2, 20, "IVT 250", kBlack);
  EXPECT_EQ(w, Image::text_width("IVT 250"));
  int ink = 0;
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 120; ++x) ink += !(img.at(x, y) == kWhite);
  EXPECT_GT(ink, 40);
}

TEST(Plot, MapShowsFieldOutlinesAndTrack) {
  auto g = geo::Grid::centred(36, 72);  // 5°
  std::vector<float> field(size_t(g.size()));
  for (int64_t i = 0; i < 36; ++i)
    for (int64_t j = 0; j < 72; ++j) field[size_t(i * 72 + j)] = float(j);  // grows eastward from 0°E
  std::vector<uint8_t> cls(size_t(g.size()), 0);
  for (int64_t i = 20; i < 26; ++i)
    for (int64_t j = 30; j < 40; ++j) cls[size_t(i * 72 + j)] = 2;
  MapSpec spec;
  spec.title = "test field";
  spec.units = "units";
  spec.vmin = 0;
  spec.vmax = 71;
  spec.coastlines = false;
  spec.graticule = false;
  spec.map_width = 720;
  spec.class_names = {"background", "tropical_cyclone", "atmospheric_river"};
  Track t;
  t.points = {{-60, 20}, {-55, 30}, {-50, 40}};
  const Image img = render_map(g, field, {}, cls, {t}, spec);
  const Decoded d = decode(img.png_bytes());
  // The map area starts at x = 56, y = 64 and is 720 x 360 pixels (10 px per 5° cell), its left
  // edge at −2.5°E so that the cell centred on 0°E is whole.
  EXPECT_EQ(d.at(56 + 2, 64 + 100), viridis(0.0));
  EXPECT_EQ(d.at(56 + 715, 64 + 100), viridis(1.0));
  // The river box spans 150..200°E, 10..40°N: its western edge is white, its inside is not.
  const int x_west = 56 + 300, y_mid = 64 + int((90 - 25) * 2);
  EXPECT_EQ(d.at(x_west, y_mid), kWhite);
  EXPECT_NE(d.at(x_west + 20, y_mid), kWhite);
  // The track at 30°E, 55°S is red.
  EXPECT_EQ(d.at(56 + 65, 64 + (90 + 55) * 2), (Rgb{232, 17, 45}));
  // Title ink in the title band.
  int ink = 0;
  for (int x = 56; x < 200; ++x)
    for (int y = 5; y < 30; ++y) ink += !(d.at(x, y) == kWhite);
  EXPECT_GT(ink, 50);
}

TEST(Plot, HistogramBarsScaleWithCounts) {
  const Image img = render_histogram("lifetimes", "days", {0, 1, 2, 5}, {4, 8, 0, 2});
  const Decoded d = decode(img.png_bytes());
  // Bars stand on the axis at y = 50 + 320; the second bar (8) is twice as tall as the first (4).
  auto bar_height = [&](int slot) {
    const int x = 70 + int((slot + 0.5) * 160);
    int h = 0;
    for (int y = 50 + 319; y > 50; --y) {
      if (d.at(x, y) == kWhite || d.at(x, y).r == d.at(x, y).g) break;
      ++h;
    }
    return h;
  };
  EXPECT_NEAR(bar_height(1), 2 * bar_height(0), 2);
  EXPECT_EQ(bar_height(2), 0);
  EXPECT_THROW(render_histogram("x", "y", {0, 1}, {1}), Error);
}

TEST(Plot, CoastlinesWhenGshhgIsInstalled) {
  const auto& lines = coastlines();
  if (lines.empty()) GTEST_SKIP() << "gmt-gshhg-low not installed: no coastlines";
  // The Cape of Good Hope (34.36°S, 18.47°E) is on a shore.
  double best = 1e9;
  for (const auto& l : lines)
    for (const auto& p : l) best = std::min(best, geo::great_circle_m(p.lat, p.lon, -34.36, 18.47));
  EXPECT_LT(best, 30e3);
}
