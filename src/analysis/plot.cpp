// Raster drawing, map and histogram rendering, PNG encoding.
#include "analysis/plot.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "analysis/plot_tables.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace climseg::plot {
namespace {

const tables::Font& font_of(TextSize s) { return s == TextSize::small ? tables::kSmallFont : tables::kLargeFont; }

std::string number(double v) {
  const double a = std::abs(v);
  if (a != 0 && (a >= 1e7 || a < 1e-3)) return fmt::format("{:.3g}", v);
  std::string s = fmt::format("{:.4f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

// "2e-06" -> "2e-6", "1e+05" -> "1e5".
std::string compact_exponent(std::string s) {
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mant = s.substr(0, e), exp = s.substr(e + 1);
  const bool neg = !exp.empty() && exp[0] == '-';
  if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) exp.erase(0, 1);
  while (exp.size() > 1 && exp[0] == '0') exp.erase(0, 1);
  return mant + "e" + (neg ? "-" : "") + exp;
}

// Code points of UTF-8 text; a malformed byte becomes '?'.
std::u32string decode_utf8(const std::string& s) {
  std::u32string out;
  for (size_t k = 0; k < s.size();) {
    const auto b = static_cast<unsigned char>(s[k]);
    int n = b < 0x80 ? 0 : (b >> 5) == 6 ? 1 : (b >> 4) == 14 ? 2 : (b >> 3) == 30 ? 3 : -1;
    char32_t c = n == 0 ? b : n == 1 ? (b & 0x1F) : n == 2 ? (b & 0x0F) : (b & 0x07);
    bool ok = n >= 0;
    for (int i = 1; ok && i <= n; ++i) {
      if (k + size_t(i) >= s.size()) {
        ok = false;
        break;
      }
      const auto cb = static_cast<unsigned char>(s[k + size_t(i)]);
      if ((cb >> 6) != 2) ok = false;
      c = (c << 6) | (cb & 0x3F);
    }
    if (!ok) {
      out.push_back(U'?');
      ++k;
    } else {
      out.push_back(c);
      k += size_t(n) + 1;
    }
  }
  return out;
}

// The glyph index of a code point in the fonts; -1 when the fonts lack it.
int glyph_index(char32_t c) {
  if (c >= 32 && c <= 126) return int(c) - 32;
  for (int k = 0; k < tables::kExtraCount; ++k)
    if (tables::kExtraCodes[k] == c) return 95 + k;
  return -1;
}

int glyph_or_question(char32_t c) {
  const int g = glyph_index(c);
  return g >= 0 ? g : '?' - 32;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int max_n) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(1, max_n);
  // Candidate steps 1, 2, 2.5, 5 x 10^k: the smallest at least `raw`, or smaller ones until two ticks fit.
  const double mantissas[] = {1.0, 2.0, 2.5, 5.0};
  int e = int(std::floor(std::log10(raw))), m = 0;
  while (mantissas[m] * std::pow(10.0, e) < raw * (1 - 1e-12))
    if (++m == 4) {
      m = 0;
      ++e;
    }
  for (;;) {
    const double step = mantissas[m] * std::pow(10.0, e);
    // Ticks as integer multiples of the step (no accumulated rounding).
    std::vector<double> t;
    // (At most 1000: past 2^53 a step of 1 no longer moves k, for a range below the values' precision.)
    for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step && t.size() < 1000; k += 1.0)
      t.push_back(std::abs(k) < 0.5 ? 0.0 : k * step);
    if (t.size() >= 1000) return {lo, hi};
    if (t.size() >= 2 || e < -300) return t.empty() ? std::vector<double>{lo} : t;
    if (--m < 0) {
      m = 3;
      --e;
    }
  }
}

std::vector<std::string> tick_labels(const std::vector<double>& ticks) {
  if (ticks.empty()) return {};
  double amax = 0, step = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < ticks.size(); ++k) {
    amax = std::max(amax, std::abs(ticks[k]));
    if (k > 0) step = std::min(step, std::abs(ticks[k] - ticks[k - 1]));
  }
  if (!std::isfinite(step) || step == 0) step = amax > 0 ? amax : 1.0;
  const double tol = 0.01 * step;
  auto accept = [&](const std::vector<std::string>& labels) {
    for (size_t k = 0; k < labels.size(); ++k) {
      double v = 0;
      try {
        v = std::stod(labels[k]);
      } catch (const std::exception&) {
        return false;
      }
      if (std::abs(v - ticks[k]) > tol) return false;
      if (k > 0 && labels[k] == labels[k - 1]) return false;
    }
    return true;
  };
  std::vector<std::string> out(ticks.size());
  // Plain decimals for ordinary magnitudes (99500, 100000, 100500; 0.25, 0.5), the fewest digits that
  // keep every label within 1% of a step of its value (so neighbours differ).
  if (amax < 1e7 && (amax == 0 || amax >= 1e-3))
    for (int d = 0; d <= 6; ++d) {
      for (size_t k = 0; k < ticks.size(); ++k) {
        out[k] = fmt::format("{:.{}f}", ticks[k], d);
        if (out[k].find_first_not_of("-0.") == std::string::npos) out[k].assign(1, '0');
      }
      if (accept(out)) return out;
    }
  for (int p = 0; p <= 15; ++p) {
    for (size_t k = 0; k < ticks.size(); ++k)
      out[k] = ticks[k] == 0 ? "0" : compact_exponent(fmt::format("{:.{}e}", ticks[k], p));
    if (accept(out)) return out;
  }
  for (size_t k = 0; k < ticks.size(); ++k) out[k] = fmt::format("{}", ticks[k]);
  return out;
}

namespace {

std::string lat_label(double lat) {
  if (std::abs(lat) < 1e-9) return "EQ";
  return number(std::abs(lat)) + (lat > 0 ? "N" : "S");
}

std::string lon_label(double lon) {
  double l = std::fmod(lon, 360.0);
  if (l < 0) l += 360.0;
  if (std::abs(l) < 1e-9 || std::abs(l - 360) < 1e-9) return "0";
  if (std::abs(l - 180) < 1e-9) return "180";
  return l < 180 ? number(l) + "E" : number(360 - l) + "W";
}

void png_write_to_string(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), length);
}

void png_flush_nothing(png_structp) {}

}  // namespace

Rgb viridis(double t) {
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 255.0;
  const int k = std::min(254, int(t));
  const double f = t - k;
  auto mix = [&](int c) {
    return uint8_t(std::lround((1 - f) * tables::kViridis[k][c] + f * tables::kViridis[k + 1][c]));
  };
  return {mix(0), mix(1), mix(2)};
}

Rgb class_colour(int cls) {
  switch (cls) {
    case 1:
      return {232, 17, 45};  // cyclone: red
    case 2:
      return {255, 255, 255};  // river: white
    case 3:
      return {255, 140, 0};  // waves: orange
    default: {
      static const Rgb palette[] = {{255, 0, 255}, {0, 0, 0}, {0, 255, 255}, {128, 0, 0}};
      return palette[size_t(cls) % 4];
    }
  }
}

// ---- Image

Image::Image(int width, int height, Rgb bg) : width_(width), height_(height) {
  if (width <= 0 || height <= 0 || width > 20000 || height > 20000)
    fail("picture: invalid size {}x{} pixels", width, height);
  rgb_.resize(size_t(width) * size_t(height) * 3);
  for (size_t k = 0; k < rgb_.size(); k += 3) {
    rgb_[k] = bg.r;
    rgb_[k + 1] = bg.g;
    rgb_[k + 2] = bg.b;
  }
}

Rgb Image::at(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return {};
  const size_t k = (size_t(y) * size_t(width_) + size_t(x)) * 3;
  return {rgb_[k], rgb_[k + 1], rgb_[k + 2]};
}

void Image::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const size_t k = (size_t(y) * size_t(width_) + size_t(x)) * 3;
  rgb_[k] = c.r;
  rgb_[k + 1] = c.g;
  rgb_[k + 2] = c.b;
}

void Image::blend(int x, int y, Rgb c, double a) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_ || a <= 0) return;
  a = std::min(1.0, a);
  const size_t k = (size_t(y) * size_t(width_) + size_t(x)) * 3;
  rgb_[k] = uint8_t(std::lround((1 - a) * rgb_[k] + a * c.r));
  rgb_[k + 1] = uint8_t(std::lround((1 - a) * rgb_[k + 1] + a * c.g));
  rgb_[k + 2] = uint8_t(std::lround((1 - a) * rgb_[k + 2] + a * c.b));
}

void Image::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
  for (int y = std::max(0, y0); y <= std::min(height_ - 1, y1); ++y)
    for (int x = std::max(0, x0); x <= std::min(width_ - 1, x1); ++x) set(x, y, c);
}

void Image::rect(int x0, int y0, int x1, int y1, Rgb c) {
  for (int x = x0; x <= x1; ++x) {
    set(x, y0, c);
    set(x, y1, c);
  }
  for (int y = y0; y <= y1; ++y) {
    set(x0, y, c);
    set(x1, y, c);
  }
}

void Image::line(double x0, double y0, double x1, double y1, Rgb c, double w) {
  // Coverage from the distance of each pixel centre to the segment.
  const double r = 0.5 * w;
  const int xa = int(std::floor(std::min(x0, x1) - r - 1)), xb = int(std::ceil(std::max(x0, x1) + r + 1));
  const int ya = int(std::floor(std::min(y0, y1) - r - 1)), yb = int(std::ceil(std::max(y0, y1) + r + 1));
  const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  for (int y = std::max(0, ya); y <= std::min(height_ - 1, yb); ++y)
    for (int x = std::max(0, xa); x <= std::min(width_ - 1, xb); ++x) {
      const double px = x + 0.5, py = y + 0.5;
      double t = len2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0.0;
      t = std::clamp(t, 0.0, 1.0);
      const double d = std::hypot(px - (x0 + t * dx), py - (y0 + t * dy));
      blend(x, y, c, std::clamp(r + 0.5 - d, 0.0, 1.0));
    }
}

void Image::disc(double cx, double cy, double radius, Rgb c) {
  for (int y = int(cy - radius - 1); y <= int(cy + radius + 1); ++y)
    for (int x = int(cx - radius - 1); x <= int(cx + radius + 1); ++x)
      blend(x, y, c, std::clamp(radius + 0.5 - std::hypot(x + 0.5 - cx, y + 0.5 - cy), 0.0, 1.0));
}

int Image::text_width(const std::string& s, TextSize size) {
  return int(decode_utf8(s).size()) * font_of(size).advance;
}
bool Image::has_glyph(char32_t c) { return glyph_index(c) >= 0; }

int Image::text(int x, int y, const std::string& s, Rgb c, TextSize size, Anchor anchor) {
  const tables::Font& f = font_of(size);
  const std::u32string u = decode_utf8(s);
  const int w = int(u.size()) * f.advance;
  if (anchor == Anchor::centre) x -= w / 2;
  if (anchor == Anchor::right) x -= w;
  const int top = y - f.ascent;
  for (size_t k = 0; k < u.size(); ++k) {
    const unsigned char* a = f.alpha + size_t(glyph_or_question(u[k])) * size_t(f.width * f.height);
    const int gx = x + int(k) * f.advance;
    for (int yy = 0; yy < f.height; ++yy)
      for (int xx = 0; xx < f.width; ++xx)
        if (const unsigned char v = a[yy * f.width + xx]) blend(gx + xx, top + yy, c, v / 255.0);
  }
  return w;
}

int Image::text_with_halo(int x, int y, const std::string& s, Rgb c, Rgb halo, TextSize size, Anchor anchor) {
  for (auto [dx, dy] : {std::pair{-1, 0}, std::pair{1, 0}, std::pair{0, -1}, std::pair{0, 1}, std::pair{-1, -1},
                        std::pair{1, 1}, std::pair{-1, 1}, std::pair{1, -1}})
    text(x + dx, y + dy, s, halo, size, anchor);
  return text(x, y, s, c, size, anchor);
}

void Image::text_vertical(int x, int y, const std::string& s, Rgb c, TextSize size) {
  const tables::Font& f = font_of(size);
  const std::u32string u = decode_utf8(s);
  const int w = int(u.size()) * f.advance;
  // Render horizontally into a scratch alpha plane, then rotate by 90° anticlockwise.
  std::vector<double> alpha(size_t((w + 2) * (f.height + 2)), 0.0);
  const int top = 1;
  for (size_t k = 0; k < u.size(); ++k) {
    const unsigned char* a = f.alpha + size_t(glyph_or_question(u[k])) * size_t(f.width * f.height);
    for (int yy = 0; yy < f.height; ++yy)
      for (int xx = 0; xx < f.width; ++xx) {
        const int px = 1 + int(k) * f.advance + xx;
        if (px < w + 2)
          alpha[size_t((top + yy) * (w + 2) + px)] =
              std::max(alpha[size_t((top + yy) * (w + 2) + px)], a[yy * f.width + xx] / 255.0);
      }
  }
  for (int yy = 0; yy < f.height + 2; ++yy)
    for (int xx = 0; xx < w + 2; ++xx) {
      const double a = alpha[size_t(yy * (w + 2) + xx)];
      if (a > 0) blend(x - (f.height + 2) / 2 + yy, y + (w + 2) / 2 - xx, c, a);
    }
}

std::string Image::png_bytes() const {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) fail("picture: libpng could not start");
  png_infop info = png_create_info_struct(png);
  struct Guard {
    png_structp* p;
    png_infop* i;
    ~Guard() { png_destroy_write_struct(p, i); }
  } guard{&png, &info};
  if (info == nullptr) fail("picture: libpng could not start");
  if (setjmp(png_jmpbuf(png))) fail("picture: libpng failed to encode the image");
  png_set_write_fn(png, &out, png_write_to_string, png_flush_nothing);
  png_set_IHDR(png, info, png_uint_32(width_), png_uint_32(height_), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  for (int y = 0; y < height_; ++y)
    png_write_row(png, const_cast<png_bytep>(rgb_.data() + size_t(y) * size_t(width_) * 3));
  png_write_end(png, nullptr);
  return out;
}

void Image::write_png(const std::filesystem::path& path) const { write_file_atomically(path, png_bytes()); }

// ---- maps

namespace {

struct MapFrame {
  int x0 = 0, y0 = 0, w = 0, h = 0;  // map area in the image
  double lon_left = 0, lon_span = 360, lat_top = 90, lat_span = 180;
  bool periodic = true;
  double px(double lon) const {
    double d = lon - lon_left;
    if (periodic) d = std::fmod(std::fmod(d, 360.0) + 360.0, 360.0);
    return x0 + d / lon_span * w;
  }
  double py(double lat) const { return y0 + (lat_top - lat) / lat_span * h; }
};

// Draws a lat-lon polyline, breaking it where it jumps across the map's seam.
void polyline(Image& img, const MapFrame& f, const std::vector<geo::LatLon>& pts, Rgb c, double width) {
  for (size_t k = 1; k < pts.size(); ++k) {
    const double xa = f.px(pts[k - 1].lon), xb = f.px(pts[k].lon);
    if (std::abs(xb - xa) > 0.5 * f.w) continue;
    img.line(xa, f.py(pts[k - 1].lat), xb, f.py(pts[k].lat), c, width);
  }
}

}  // namespace

Image render_map(const geo::Grid& g, std::span<const float> field, std::span<const float> valid,
                 std::span<const uint8_t> classes, const std::vector<Track>& tracks, const MapSpec& spec) {
  const int64_t H = g.height(), W = g.width();
  if (H < 1 || W < 1) fail("picture: empty grid");
  if (field.size() != size_t(H * W))
    fail("picture: the field has {} cells, the grid {} has {}", field.size(), g.shape_str(), H * W);
  if (!valid.empty() && valid.size() != size_t(H * W)) fail("picture: the validity mask does not match the grid");
  if (!classes.empty() && classes.size() != size_t(H * W)) fail("picture: the class map does not match the grid");

  // Colour range: the 1st and 99th percentiles of the valid values unless given.
  double vmin = spec.vmin, vmax = spec.vmax;
  if (std::isnan(vmin) || std::isnan(vmax)) {
    std::vector<float> v;
    v.reserve(field.size());
    for (size_t k = 0; k < field.size(); ++k)
      if ((valid.empty() || valid[k] != 0.0f) && std::isfinite(field[k])) v.push_back(field[k]);
    if (!v.empty()) {
      auto q = [&](double p) {
        const size_t i = size_t(p * double(v.size() - 1));
        std::nth_element(v.begin(), v.begin() + long(i), v.end());
        return double(v[i]);
      };
      if (std::isnan(vmin)) vmin = q(0.01);
      if (std::isnan(vmax)) vmax = q(0.99);
    } else {
      vmin = std::isnan(vmin) ? 0 : vmin;
      vmax = std::isnan(vmax) ? 1 : vmax;
    }
  }
  if (!(vmax > vmin)) {
    const double pad = std::max(1e-6, std::abs(vmin) * 0.01);
    vmin -= pad;
    vmax += pad;
  }

  // Extent: cell edges of the grid.
  MapFrame f;
  f.periodic = g.periodic;
  const double dlat = H > 1 ? std::abs(g.lat[1] - g.lat[0]) : 1.0;
  const double top = std::min(90.0, g.lat.back() + 0.5 * dlat), bottom = std::max(-90.0, g.lat.front() - 0.5 * dlat);
  f.lat_top = top;
  f.lat_span = top - bottom;
  if (g.periodic) {
    // Whole cells at the edges: the left edge is half a cell west of lon0.
    f.lon_left = spec.lon0 - 0.5 * g.dlon();
    f.lon_span = 360.0;
  } else {
    const double dl = W > 1 ? g.lon[1] - g.lon[0] : 1.0;
    f.lon_left = g.lon.front() - 0.5 * dl;
    f.lon_span = g.lon.back() - g.lon.front() + dl;
  }
  int mw = spec.map_width > 0 ? spec.map_width : int(std::clamp<int64_t>(2 * W, 720, 1600));
  int mh = std::max(40, int(std::lround(mw * f.lat_span / f.lon_span)));
  if (mh > 1200) {  // tall regional maps: keep the picture a sensible size
    mw = std::max(200, int(mw * 1200.0 / mh));
    mh = 1200;
  }
  const int left = 56, right = 24, title_h = 64, bottom_h = 96;  // title, then subtitle and legend
  Image img(left + mw + right, title_h + mh + bottom_h, kWhite);
  f.x0 = left;
  f.y0 = title_h;
  f.w = mw;
  f.h = mh;

  // Nearest cell of each pixel column and row.
  std::vector<int64_t> col(static_cast<size_t>(mw)), row(static_cast<size_t>(mh));
  for (int x = 0; x < mw; ++x) {
    const double lon = f.lon_left + (x + 0.5) / mw * f.lon_span;
    col[size_t(x)] = std::min<int64_t>(W - 1, int64_t(std::floor(geo::fractional_column(g, lon) + 0.5)) % W);
  }
  for (int y = 0; y < mh; ++y) {
    const double lat = f.lat_top - (y + 0.5) / mh * f.lat_span;
    row[size_t(y)] = std::min<int64_t>(H - 1, int64_t(std::floor(geo::fractional_row(g, lat) + 0.5)));
  }
  const Rgb missing{208, 208, 208};
  for (int y = 0; y < mh; ++y)
    for (int x = 0; x < mw; ++x) {
      const size_t k = size_t(row[size_t(y)] * W + col[size_t(x)]);
      const bool ok = (valid.empty() || valid[k] != 0.0f) && std::isfinite(field[k]);
      img.set(left + x, title_h + y, ok ? viridis((field[k] - vmin) / (vmax - vmin)) : missing);
    }

  // Graticule.
  if (spec.graticule) {
    const double step_lat = f.lat_span > 100                          ? 30
                            : nice_ticks(0, f.lat_span, 5).size() > 1 ? nice_ticks(0, f.lat_span, 5)[1]
                                                                      : 10;
    const double step_lon = f.lon_span > 200                          ? 30
                            : nice_ticks(0, f.lon_span, 6).size() > 1 ? nice_ticks(0, f.lon_span, 6)[1]
                                                                      : 10;
    for (double lat = std::ceil((f.lat_top - f.lat_span) / step_lat) * step_lat; lat <= f.lat_top + 1e-9;
         lat += step_lat) {
      const double y = f.py(lat);
      for (int x = 0; x < mw; ++x) img.blend(left + x, int(y), kWhite, 0.25);
      img.text(left - 6, int(y) + 4, lat_label(lat), kBlack, TextSize::small, Anchor::right);
    }
    for (double lon = std::ceil(f.lon_left / step_lon) * step_lon; lon <= f.lon_left + f.lon_span + 1e-9;
         lon += step_lon) {
      const double x = f.x0 + (lon - f.lon_left) / f.lon_span * mw;
      if (x > f.x0 + mw + 0.5) continue;
      for (int y = 0; y < mh; ++y) img.blend(int(std::min<double>(x, f.x0 + mw - 1)), title_h + y, kWhite, 0.25);
      img.text(int(x), title_h + mh + 16, lon_label(lon), kBlack, TextSize::small, Anchor::centre);
    }
  }

  // Coastlines: simplified to points at least a pixel apart (islands under 2 pixels left out), drawn
  // into one coverage plane by maximum, then blended once, so dense shores (fjords, archipelagos)
  // stay thin lines instead of piling up into black blobs at coarse scales.
  if (spec.coastlines) {
    std::vector<float> cover(size_t(mw) * size_t(mh), 0.0f);
    auto seg = [&](double x0, double y0, double x1, double y1) {
      const double r = 0.5;  // half the line width (pixels)
      const int xa = int(std::floor(std::min(x0, x1) - 2)), xb = int(std::ceil(std::max(x0, x1) + 2));
      const int ya = int(std::floor(std::min(y0, y1) - 2)), yb = int(std::ceil(std::max(y0, y1) + 2));
      const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
      for (int y = std::max(f.y0, ya); y <= std::min(f.y0 + mh - 1, yb); ++y)
        for (int x = std::max(f.x0, xa); x <= std::min(f.x0 + mw - 1, xb); ++x) {
          const double px = x + 0.5, py = y + 0.5;
          const double t = std::clamp(len2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0.0, 0.0, 1.0);
          const double a = std::clamp(r + 0.5 - std::hypot(px - (x0 + t * dx), py - (y0 + t * dy)), 0.0, 1.0);
          float& c = cover[size_t(y - f.y0) * size_t(mw) + size_t(x - f.x0)];
          c = std::max(c, float(a));
        }
    };
    auto draw = [&](const std::vector<geo::LatLon>& pts) {
      if (pts.size() < 2) return;
      double xmin = 1e30, xmax = -1e30, ymin = 1e30, ymax = -1e30;
      for (const auto& p : pts) {
        xmin = std::min(xmin, f.px(p.lon));
        xmax = std::max(xmax, f.px(p.lon));
        ymin = std::min(ymin, f.py(p.lat));
        ymax = std::max(ymax, f.py(p.lat));
      }
      if (xmax - xmin < 2 && ymax - ymin < 2) return;
      double lx = f.px(pts[0].lon), ly = f.py(pts[0].lat);
      for (size_t k = 1; k < pts.size(); ++k) {
        const double x = f.px(pts[k].lon), y = f.py(pts[k].lat);
        if (k + 1 < pts.size() && std::hypot(x - lx, y - ly) < 1.0) continue;
        if (std::abs(x - lx) <= 0.5 * f.w) seg(lx, ly, x, y);
        lx = x;
        ly = y;
      }
    };
    for (const auto& line : coastlines()) {
      std::vector<geo::LatLon> inside;
      for (const auto& p : line) {
        const bool in_lat = p.lat <= f.lat_top + 1e-9 && p.lat >= f.lat_top - f.lat_span - 1e-9;
        double d = p.lon - f.lon_left;
        if (f.periodic) d = std::fmod(std::fmod(d, 360.0) + 360.0, 360.0);
        const bool in_lon = d >= -1e-9 && d <= f.lon_span + 1e-9;
        if (in_lat && in_lon) {
          inside.push_back(p);
        } else {
          draw(inside);
          inside.clear();
        }
      }
      draw(inside);
    }
    for (int y = 0; y < mh; ++y)
      for (int x = 0; x < mw; ++x)
        if (const float c = cover[size_t(y) * size_t(mw) + size_t(x)]; c > 0)
          img.blend(f.x0 + x, f.y0 + y, {15, 15, 15}, 0.95 * c);
  }

  // Class outlines: map pixels whose class differs from a neighbour within 2 pixels.
  std::vector<bool> present(256, false);
  if (!classes.empty()) {
    auto cls_at = [&](int x, int y) -> int {
      if (x < 0 || y < 0 || x >= mw || y >= mh) return -1;
      return classes[size_t(row[size_t(y)] * W + col[size_t(x)])];
    };
    for (int y = 0; y < mh; ++y)
      for (int x = 0; x < mw; ++x) {
        const int c = cls_at(x, y);
        if (c <= 0) continue;
        present[size_t(c)] = true;
        bool edge = false;
        for (int d = 1; d <= 2 && !edge; ++d)
          for (auto [ox, oy] : {std::pair{d, 0}, std::pair{-d, 0}, std::pair{0, d}, std::pair{0, -d}}) {
            const int o = cls_at(x + ox, y + oy);
            if (o != c && o != -1) {
              edge = true;
              break;
            }
          }
        if (edge) img.set(left + x, title_h + y, class_colour(c));
      }
  }

  // Tracks, then their labels on top of every track.
  for (const auto& t : tracks) {
    if (t.points.empty()) continue;
    polyline(img, f, t.points, kBlack, 3.5);
    polyline(img, f, t.points, t.colour, 2.0);
    for (const auto& p : t.points) img.disc(f.px(p.lon), f.py(p.lat), 2.2, t.colour);
  }
  for (const auto& t : tracks)
    if (!t.points.empty() && !t.label.empty()) {
      const double gx = f.px(t.points.front().lon), gy = f.py(t.points.front().lat);
      img.disc(gx, gy, 3.2, kBlack);
      img.disc(gx, gy, 2.2, kWhite);
      img.text_with_halo(int(gx) + 5, int(gy) - 5, t.label, kWhite, kBlack);
    }
  img.rect(left - 1, title_h - 1, left + mw, title_h + mh, kBlack);

  // Title and legend.
  img.text(left, 24, spec.title, kBlack, TextSize::large);
  if (!spec.subtitle.empty()) img.text(left, 44, spec.subtitle, {70, 70, 70});
  int lx = left + mw;
  // The legend sits right-aligned on the subtitle's line, below the title.
  auto legend = [&](const std::string& name, Rgb c) {
    const int tw = Image::text_width(name);
    lx -= tw;
    img.text(lx, 44, name, kBlack);
    lx -= 22;
    img.fill_rect(lx, 36, lx + 16, 40, c);
    img.rect(lx - 1, 35, lx + 17, 41, kGrey);
    lx -= 14;
  };
  std::vector<std::pair<std::string, Rgb>> kinds;  // in order of first appearance
  for (const auto& t : tracks)
    if (!t.points.empty() && std::find(kinds.begin(), kinds.end(), std::pair{t.kind, t.colour}) == kinds.end())
      kinds.emplace_back(t.kind, t.colour);
  for (auto it = kinds.rbegin(); it != kinds.rend(); ++it) legend(it->first, it->second);
  for (int c = 255; c >= 1; --c)
    if (present[size_t(c)])
      legend(size_t(c) < spec.class_names.size() ? spec.class_names[size_t(c)] : fmt::format("class {}", c),
             class_colour(c));

  // Colour bar with ticks and units: the most ticks (up to 6) whose labels do not touch.
  const int bw = std::min(mw, std::max(300, mw * 3 / 5)), bx = left + (mw - bw) / 2, by = title_h + mh + 32, bh = 14;
  for (int x = 0; x < bw; ++x) {
    const Rgb c = viridis((x + 0.5) / bw);
    for (int y = 0; y < bh; ++y) img.set(bx + x, by + y, c);
  }
  img.rect(bx - 1, by - 1, bx + bw, by + bh, kBlack);
  std::vector<double> ticks;
  std::vector<std::string> labels;
  for (int n = 6; n >= 2; --n) {
    ticks = nice_ticks(vmin, vmax, n);
    labels = tick_labels(ticks);
    int widest = 0;
    for (const auto& l : labels) widest = std::max(widest, Image::text_width(l));
    const double gap = ticks.size() > 1 ? (ticks[1] - ticks[0]) / (vmax - vmin) * bw : double(bw);
    if (gap >= widest + 8) break;
  }
  for (size_t k = 0; k < ticks.size(); ++k) {
    const int x = bx + int(std::lround((ticks[k] - vmin) / (vmax - vmin) * bw));
    for (int y = by + bh; y < by + bh + 4; ++y) img.set(x, y, kBlack);
    img.text(x, by + bh + 16, labels[k], kBlack, TextSize::small, Anchor::centre);
  }
  if (!spec.units.empty()) img.text(bx + bw / 2, by + bh + 34, spec.units, kBlack, TextSize::small, Anchor::centre);
  return img;
}

Image render_histogram(const std::string& title, const std::string& xlabel, const std::vector<double>& edges,
                       const std::vector<int64_t>& counts, const std::string& ylabel) {
  if (edges.size() != counts.size() || counts.empty())
    fail("histogram picture: {} bin edges for {} counts", edges.size(), counts.size());
  for (size_t k = 1; k < edges.size(); ++k)
    if (!(edges[k] > edges[k - 1])) fail("histogram picture: bin edges must increase");
  const int left = kHistLeft, right = 30, top = kHistTop, bottom = 70, pw = kHistWidth, ph = kHistHeight;
  Image img(left + pw + right, top + ph + bottom, kWhite);
  img.text(left, 28, title, kBlack, TextSize::large);
  const size_t n = counts.size();
  // Bin k spans [lo[k], hi[k]); the open last bin is drawn as wide as the one before it (1 if alone).
  std::vector<double> lo(edges), hi(n);
  for (size_t k = 0; k + 1 < n; ++k) hi[k] = edges[k + 1];
  hi[n - 1] = edges[n - 1] + (n > 1 ? edges[n - 1] - edges[n - 2] : 1.0);
  const double x_min = lo[0], x_max = hi[n - 1];
  auto X = [&](double v) { return left + int(std::lround((v - x_min) / (x_max - x_min) * pw)); };
  std::vector<double> dens(n);
  double dmax = 0;
  for (size_t k = 0; k < n; ++k) {
    dens[k] = double(counts[k]) / (hi[k] - lo[k]);
    dmax = std::max(dmax, dens[k]);
  }
  if (dmax <= 0) dmax = 1;
  const auto yt = nice_ticks(0, 1.1 * dmax, 5);  // a tenth of headroom for the counts above the bars
  const double ymax = std::max(1.1 * dmax, yt.back());
  const auto yl = tick_labels(yt);
  for (size_t k = 0; k < yt.size(); ++k) {
    const int y = top + ph - int(std::lround(yt[k] / ymax * ph));
    for (int x = left; x < left + pw; ++x) img.blend(x, y, kGrey, 0.35);
    img.text(left - 6, y + 4, yl[k], kBlack, TextSize::small, Anchor::right);
  }
  int last_count_right = -1000;
  for (size_t k = 0; k < n; ++k) {
    // A one-pixel white gap on the right of each bar keeps neighbours apart.
    const int x0 = X(lo[k]), x1 = X(hi[k]) - 2;
    const int y0 = top + ph - int(std::lround(dens[k] / ymax * ph));
    const Rgb c = viridis(0.25 + 0.5 * double(k) / double(std::max<size_t>(1, n - 1)));
    if (counts[k] > 0) {
      if (k + 1 < n) {
        img.fill_rect(x0, y0, x1, top + ph - 1, c);
      } else {  // open-ended: hatched
        for (int y = y0; y < top + ph; ++y)
          for (int x = x0; x <= x1; ++x) img.set(x, y, (x + y) % 6 < 3 ? c : kWhite);
        img.rect(x0, y0, x1, top + ph - 1, c);
      }
      const std::string cs = std::to_string(counts[k]);
      const int cw = Image::text_width(cs), cx = (x0 + x1) / 2;
      if (cx - cw / 2 > last_count_right + 2) {
        img.text(cx, y0 - 4, cs, kBlack, TextSize::small, Anchor::centre);
        last_count_right = cx + cw / 2;
      }
    }
  }
  // Edge labels where they fit (the first and the last always), the open bin marked "≥ last edge".
  std::vector<std::pair<int, std::string>> marks;
  for (size_t k = 0; k < n; ++k) marks.emplace_back(X(edges[k]), number(edges[k]));
  const std::string open = "≥" + number(edges[n - 1]);
  int last_right = -1000;
  for (size_t k = 0; k < marks.size(); ++k) {
    const auto& [x, lab] = marks[k];
    for (int y = top + ph; y < top + ph + 4; ++y) img.set(x, y, kBlack);
    const int w = Image::text_width(lab);
    const bool must = k == 0 || k + 1 == marks.size();
    const int next_x = k + 1 < marks.size() ? marks[k + 1].first - Image::text_width(marks[k + 1].second) / 2 : 1 << 20;
    if (x - w / 2 > last_right + 4 && (must || x + w / 2 + 4 < next_x)) {
      img.text(x, top + ph + 16, lab, kBlack, TextSize::small, Anchor::centre);
      last_right = x + w / 2;
    }
  }
  const int open_x = (X(lo[n - 1]) + X(hi[n - 1])) / 2;
  if (open_x - Image::text_width(open) / 2 > last_right + 4)
    img.text(open_x, top + ph + 16, open, kBlack, TextSize::small, Anchor::centre);
  img.rect(left - 1, top - 1, left + pw, top + ph, kBlack);
  img.text(left + pw / 2, top + ph + 44, xlabel, kBlack, TextSize::small, Anchor::centre);
  img.text_vertical(18, top + ph / 2, ylabel, kBlack);
  return img;
}

}  // namespace climseg::plot
