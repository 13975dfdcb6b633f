// PNG pictures people look at before they trust numbers: maps of a field on the lat-lon grid with a
// perceptually uniform colour map (viridis), a colour bar with units, class outlines, tracks and a
// title; histograms and genesis maps. Plain RGB raster drawing, written with libpng.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "geo/grid.hpp"
#include "geo/sphere.hpp"

namespace climseg::plot {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kGrey{128, 128, 128};

// Up to about max_n round ticks (steps of 1, 2, 2.5 or 5 x 10^k, each an integer multiple of the
// step) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int max_n);
// Labels for increasing ticks, all in one style: plain decimals with the fewest digits that keep every
// label within 1% of a tick step of its value (99500 100000 100500; 0.5 1 1.5) for magnitudes in
// [1e-3, 1e7), else compact scientific (2e-6 4e-6 6e-6). Neighbouring labels always differ.
std::vector<std::string> tick_labels(const std::vector<double>& ticks);

// Viridis at t in [0, 1] (clamped): dark blue, through green, to yellow; uniform in lightness.
Rgb viridis(double t);

enum class TextSize { small, large };
enum class Anchor { left, centre, right };

// An RGB image with simple, anti-aliased where it matters, drawing.
class Image {
 public:
  Image(int width, int height, Rgb background = kWhite);
  int width() const { return width_; }
  int height() const { return height_; }
  Rgb at(int x, int y) const;
  void set(int x, int y, Rgb c);                          // ignores points outside
  void blend(int x, int y, Rgb c, double alpha);          // alpha in [0, 1]
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c);  // inclusive corners
  void rect(int x0, int y0, int x1, int y1, Rgb c);       // outline
  // A line of the given width (pixels), anti-aliased.
  void line(double x0, double y0, double x1, double y1, Rgb c, double width = 1.0);
  void disc(double x, double y, double radius, Rgb c);
  // UTF-8 text with its baseline at y; returns the width drawn. The fonts hold ASCII 32..126 and the
  // characters of units and titles (°, ² ³ ¹ ⁰ ⁴..⁹ ⁻ ⁺, ·, ×, −, ≥, ≤, ±, µ, Δ, σ, θ, …, – —, ’);
  // anything else shows as '?'.
  int text(int x, int y, const std::string& s, Rgb c, TextSize size = TextSize::small, Anchor anchor = Anchor::left);
  // The same with a one-pixel outline in `halo` (labels readable on any colour).
  int text_with_halo(int x, int y, const std::string& s, Rgb c, Rgb halo, TextSize size = TextSize::small,
                     Anchor anchor = Anchor::left);
  static bool has_glyph(char32_t c);
  // Text drawn bottom-to-top (for a vertical axis label), centred on (x, y).
  void text_vertical(int x, int y, const std::string& s, Rgb c, TextSize size = TextSize::small);
  static int text_width(const std::string& s, TextSize size = TextSize::small);  // code points x advance

  // Writes an 8-bit RGB PNG atomically (temporary name, fsync, rename). Throws Error naming the path.
  void write_png(const std::filesystem::path& path) const;
  // The encoded PNG bytes (for tests).
  std::string png_bytes() const;
  const std::vector<uint8_t>& pixels() const { return rgb_; }  // (height, width, 3)

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

// Colour of each class outline: 1 cyclone red, 2 river white, 3 waves orange, others from a palette.
Rgb class_colour(int cls);

struct Track {
  std::vector<geo::LatLon> points;
  std::string label;  // drawn beside the first point (genesis) when not empty, white with a black outline
  Rgb colour{232, 17, 45};
  std::string kind = "track";  // legend entry (one per distinct kind and colour)
};

struct MapSpec {
  std::string title;                                       // e.g. "IVT  2017-02-28T00:00:00"
  std::string subtitle;                                    // e.g. the file name
  std::string units;                                       // colour-bar label, e.g. "kg m-1 s-1"
  double vmin = std::numeric_limits<double>::quiet_NaN();  // NaN: the 1st percentile of valid values
  double vmax = std::numeric_limits<double>::quiet_NaN();  // NaN: the 99th percentile
  int map_width = 0;  // pixels of the map area; 0: 2 pixels per cell, between 720 and 1600
  double lon0 = 0.0;  // longitude of the first column shown on a global map (half a cell from the edge)
  std::vector<std::string> class_names;  // legend entries by class value (index 0 unused)
  bool graticule = true;                 // lines every 30° (global) or a nicer step (regional)
  // Coastlines, when Debian's GSHHG data are installed (see coastlines()).
  bool coastlines = true;
};

// A map of `field` (H, W) on `grid`; `valid` (H, W, 1/0, optional) greys out missing cells;
// `classes` (H, W, optional) draws the outline of each nonzero class in its colour; `tracks` are
// drawn on top.
Image render_map(const geo::Grid& grid, std::span<const float> field, std::span<const float> valid,
                 std::span<const uint8_t> classes, const std::vector<Track>& tracks, const MapSpec& spec);

// A histogram of counts over bins [edges[k], edges[k+1]), the last bin open ("≥ last edge"): each
// bar spans its bin on a linear x axis (the open bin drawn as wide as the one before it, hatched),
// its height the count per unit of x (so areas are proportional to counts with unequal bins; the
// count is written above the bar where it fits); `ylabel` names that density, e.g. "events per day".
// The plot area is kHistLeft..kHistLeft + kHistWidth pixels wide, its axis at kHistTop + kHistHeight.
inline constexpr int kHistLeft = 70, kHistTop = 50, kHistWidth = 640, kHistHeight = 320;
Image render_histogram(const std::string& title, const std::string& xlabel, const std::vector<double>& edges,
                       const std::vector<int64_t>& counts, const std::string& ylabel = "events per unit");

// Coastline polylines (lat, lon) from Debian's gmt-gshhg-low data when present; empty otherwise.
// Looks in $CLIMSEG_GSHHG_DIR, then /usr/share/gmt-gshhg and /usr/share/gshhg-gmt-nc4.
const std::vector<std::vector<geo::LatLon>>& coastlines();

}  // namespace climseg::plot
