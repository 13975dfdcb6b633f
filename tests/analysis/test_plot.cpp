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

TEST(Plot, HistogramBarsSpanTheirBinsAndAreasAreCounts) {
  // Bins [0,1) [1,2) [2,5) [5,...): the open bin is drawn 3 wide like the one before, so the x axis
  // spans 0..8 over 640 px, 80 px per unit; each bar is its bin's width less a 1 px gap.
  const std::vector<int64_t> counts = {4, 8, 0, 6};
  const Image img = render_histogram("lifetimes", "days", {0, 1, 2, 5}, counts, "events per day");
  const Decoded d = decode(img.png_bytes());
  auto colour = [](int k) { return viridis(0.25 + 0.5 * k / 3.0); };
  const int axis = kHistTop + kHistHeight - 1;  // the bars' bottom row
  auto run = [&](int k) {                       // width of bar k's bottom row
    int x = kHistLeft;
    while (x < kHistLeft + kHistWidth && !(d.at(x, axis) == colour(k))) ++x;
    int w = 0;
    while (d.at(x + w, axis) == colour(k)) ++w;
    return std::pair{x, w};
  };
  EXPECT_EQ(run(0), (std::pair{kHistLeft + 0, 79}));
  EXPECT_EQ(run(1), (std::pair{kHistLeft + 80, 79}));
  EXPECT_EQ(run(3), (std::pair{kHistLeft + 400, 239}));
  // Heights are counts per unit: 4, 8 and 6/3 = 2 per day on an axis to 8 x 1.1 = 8.8 (320 px):
  // 145.5, 290.9 and 72.7 px.
  auto height = [&](int x, int k) {
    int h = 0;
    while (h < kHistHeight + 5 && d.at(x, axis - h) == colour(k)) ++h;
    return h;
  };
  EXPECT_EQ(height(kHistLeft + 40, 0), 145);
  EXPECT_EQ(height(kHistLeft + 120, 1), 291);
  EXPECT_EQ(height(kHistLeft + 400, 3), 73);  // the hatched bar's outline
  // The empty bin draws nothing.
  for (int x = kHistLeft + 162; x < kHistLeft + 398; ++x) EXPECT_EQ(d.at(x, axis), kWhite) << x;
  EXPECT_THROW(render_histogram("x", "y", {0, 1}, {1}), Error);
  EXPECT_THROW(render_histogram("x", "y", {0, 0}, {1, 1}), Error);
}

TEST(Plot, TickLabelsAreDistinctMonotoneAndTrue) {
  // Pa, kg m-2, s-1, K anomalies: every range gives increasing ticks whose labels differ, read back
  // within 1% of a step of their ticks, and are in one style.
  const std::vector<std::pair<double, double>> ranges = {{1e-6, 1e-5}, {0, 800},   {99000, 103000}, {99500, 100500},
                                                         {-3, -1.5},   {-40, 15},  {-1e-4, 1e-4},   {0.001, 0.0042},
                                                         {2.5e6, 9e6}, {1e7, 5e7}, {-2e-5, -1e-6},  {0, 1}};
  for (auto [lo, hi] : ranges)
    for (int n = 2; n <= 6; ++n) {
      const auto t = nice_ticks(lo, hi, n);
      const auto l = tick_labels(t);
      ASSERT_EQ(l.size(), t.size());
      ASSERT_GE(t.size(), 2u) << lo << ".." << hi << " n " << n;
      for (size_t k = 0; k < t.size(); ++k) {
        EXPECT_GE(t[k], lo - 1e-9 * (hi - lo));
        EXPECT_LE(t[k], hi + 1e-9 * (hi - lo));
        EXPECT_NEAR(std::stod(l[k]), t[k], 0.01 * (t[1] - t[0])) << l[k];
        if (k > 0) {
          EXPECT_GT(t[k], t[k - 1]);
          EXPECT_NE(l[k], l[k - 1]);
          EXPECT_GT(std::stod(l[k]), std::stod(l[k - 1])) << l[k - 1] << " " << l[k];
        }
      }
    }
  // Hand-worked: the PSL bar of the audit (was "99500, 1e+05, 1e+05, 1e+05").
  // A range below the values' precision (2 at 1e16, where doubles are 2 apart) ends, with its ends.
  EXPECT_EQ(nice_ticks(1e16, 1e16 + 2, 6), (std::vector<double>{1e16, 1e16 + 2}));
  EXPECT_EQ(tick_labels(nice_ticks(1e16, 1e16 + 2, 6)).size(), 2u);
  EXPECT_EQ(tick_labels(nice_ticks(99000, 103000, 6)),  // raw step 667: the next nice one is 1000
            (std::vector<std::string>{"99000", "100000", "101000", "102000", "103000"}));
  EXPECT_EQ(tick_labels(nice_ticks(99000, 103000, 8)),  // raw step 500
            (std::vector<std::string>{"99000", "99500", "100000", "100500", "101000", "101500", "102000", "102500",
                                      "103000"}));
  EXPECT_EQ(tick_labels(nice_ticks(0, 800, 6)), (std::vector<std::string>{"0", "200", "400", "600", "800"}));
  EXPECT_EQ(tick_labels(nice_ticks(1e-6, 1e-5, 6)), (std::vector<std::string>{"2e-6", "4e-6", "6e-6", "8e-6", "1e-5"}));
  EXPECT_EQ(tick_labels(nice_ticks(-3, -1.5, 4)), (std::vector<std::string>{"-3.0", "-2.5", "-2.0", "-1.5"}));
  EXPECT_EQ(tick_labels(nice_ticks(-1e-4, 1e-4, 4)), (std::vector<std::string>{"-1e-4", "-5e-5", "0", "5e-5", "1e-4"}));
}

TEST(Plot, UnitsAndDegreesHaveGlyphs) {
  for (char32_t c : {U'°', U'²', U'³', U'¹', U'⁰', U'⁶', U'⁻', U'·', U'×', U'−', U'≥', U'µ'})
    EXPECT_TRUE(Image::has_glyph(c)) << uint32_t(c);
  EXPECT_FALSE(Image::has_glyph(U'€'));
  // One glyph per code point, whatever its UTF-8 length.
  EXPECT_EQ(Image::text_width("5° cells"), Image::text_width("5x cells"));
  EXPECT_EQ(Image::text_width("kg m⁻²"), Image::text_width("kg m-2"));
  // The degree sign is drawn as itself: not the '?' that stands for unknown characters.
  auto ink = [](const std::string& s) {
    Image img(200, 30, kWhite);
    img.text(2, 20, s, kBlack);
    return img.pixels();
  };
  EXPECT_NE(ink("genesis (5° cells)"), ink("genesis (5? cells)"));
  EXPECT_NE(ink("kg m⁻²"), ink("kg m??"));
  EXPECT_EQ(ink("5€"), ink("5?"));  // unknown characters do show as '?'
  // The degree sign sits high: its ink is above the middle of a lower-case letter (an 'o' drawn at
  // this baseline, y = 20, spans rows 13..19).
  Image deg(20, 30, kWhite);
  deg.text(2, 20, "°", kBlack);
  int upper = 0, lower = 0;
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 20; ++x)
      if (!(deg.at(x, y) == kWhite)) (y < 16 ? upper : lower) += 1;
  EXPECT_GT(upper, 4);
  EXPECT_EQ(lower, 0);
}

TEST(Plot, TrackLabelsAtGenesis) {
  auto g = geo::Grid::centred(36, 72);
  std::vector<float> field(size_t(g.size()), 0.0f);
  MapSpec spec;
  spec.vmin = 0;
  spec.vmax = 1;
  spec.coastlines = false;
  spec.graticule = false;
  spec.map_width = 720;
  Track t;
  t.points = {{0, 90}, {5, 100}};  // genesis at 90°E on the equator: pixel (56 + 185, 64 + 180)
  t.label = "17";
  t.kind = "river event";
  t.colour = kWhite;
  const Image with = render_map(g, field, {}, {}, {t}, spec);
  t.label.clear();
  const Image without = render_map(g, field, {}, {}, {t}, spec);
  // The label is right of and above the genesis point: white ink with a black halo.
  int white = 0, black = 0;
  for (int y = 64 + 180 - 20; y < 64 + 180 - 3; ++y)
    for (int x = 56 + 185 + 4; x < 56 + 185 + 24; ++x) {
      if (with.at(x, y) == without.at(x, y)) continue;
      white += with.at(x, y) == kWhite;
      black += with.at(x, y) == kBlack;
    }
  EXPECT_GT(white, 8);
  EXPECT_GT(black, 8);
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
