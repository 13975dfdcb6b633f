// The canonical latitude-longitude grid.
#include "geo/grid.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace climseg::geo {

double Grid::dlat() const { return lat.size() > 1 ? (lat.back() - lat.front()) / double(lat.size() - 1) : 0.0; }
double Grid::dlon() const {
  if (lon.size() < 2) return 0.0;
  return periodic ? 360.0 / double(lon.size()) : (lon.back() - lon.front()) / double(lon.size() - 1);
}

std::string Grid::shape_str() const { return fmt::format("{}x{}", height(), width()); }

bool Grid::same_as(const Grid& o, double tol) const {
  if (lat.size() != o.lat.size() || lon.size() != o.lon.size() || periodic != o.periodic) return false;
  for (size_t i = 0; i < lat.size(); ++i)
    if (std::abs(lat[i] - o.lat[i]) > tol) return false;
  for (size_t j = 0; j < lon.size(); ++j)
    if (std::abs(lon[j] - o.lon[j]) > tol) return false;
  return true;
}

std::vector<double> Grid::row_areas() const {
  const auto H = lat.size();
  std::vector<double> out(H, 0.0);
  if (H == 0) return out;
  // Cell edges halfway between centres, clamped to the poles.
  std::vector<double> edge(H + 1);
  for (size_t i = 1; i < H; ++i) edge[i] = 0.5 * (lat[i - 1] + lat[i]);
  double first = H > 1 ? lat[0] - 0.5 * (lat[1] - lat[0]) : lat[0] - 0.5;
  double last = H > 1 ? lat[H - 1] + 0.5 * (lat[H - 1] - lat[H - 2]) : lat[0] + 0.5;
  edge[0] = std::max(-90.0, first);
  edge[H] = std::min(90.0, last);
  const double dl = dlon() * kDegToRad;
  for (size_t i = 0; i < H; ++i)
    out[i] =
        kEarthRadius * kEarthRadius * dl * std::abs(std::sin(edge[i + 1] * kDegToRad) - std::sin(edge[i] * kDegToRad));
  return out;
}

std::vector<double> Grid::row_cos_lat() const {
  std::vector<double> out(lat.size());
  for (size_t i = 0; i < lat.size(); ++i) out[i] = std::max(0.0, std::cos(lat[i] * kDegToRad));
  return out;
}

Grid Grid::cam(int64_t height, int64_t width) {
  Grid g;
  g.lat.resize(static_cast<size_t>(height));
  g.lon.resize(static_cast<size_t>(width));
  for (int64_t i = 0; i < height; ++i)
    g.lat[static_cast<size_t>(i)] = height > 1 ? -90.0 + 180.0 * double(i) / double(height - 1) : 0.0;
  for (int64_t j = 0; j < width; ++j) g.lon[static_cast<size_t>(j)] = 360.0 * double(j) / double(width);
  g.periodic = true;
  return g;
}

Grid Grid::centred(int64_t height, int64_t width) {
  Grid g = cam(height, width);
  for (int64_t i = 0; i < height; ++i)
    g.lat[static_cast<size_t>(i)] = -90.0 + 180.0 * (double(i) + 0.5) / double(height);
  return g;
}

double Orientation::file_longitude(double lon) const {
  double v = std::fmod(lon, 360.0);
  if (v < 0) v += 360.0;
  if (v >= 360.0) v -= 360.0;
  if (lon_signed && v >= 180.0) v -= 360.0;
  return v;
}

double great_circle_m(double lat1, double lon1, double lat2, double lon2) {
  const double p1 = lat1 * kDegToRad, p2 = lat2 * kDegToRad;
  const double dp = p2 - p1, dl = (lon2 - lon1) * kDegToRad;
  const double a =
      std::sin(dp / 2) * std::sin(dp / 2) + std::cos(p1) * std::cos(p2) * std::sin(dl / 2) * std::sin(dl / 2);
  return 2.0 * kEarthRadius * std::asin(std::min(1.0, std::sqrt(a)));
}

}  // namespace climseg::geo
