// Canonical orientation of grids and fields.
#include "readers/orientation.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.hpp"

namespace climseg::io {

CanonicalGrid canonical_grid(const std::vector<double>& file_lat, const std::vector<double>& file_lon,
                             const std::string& where) {
  CanonicalGrid out;
  const size_t H = file_lat.size(), W = file_lon.size();
  if (H == 0 || W == 0) fail("{}: empty latitude or longitude coordinate", where);
  for (double v : file_lat)
    if (!std::isfinite(v) || v < -90.0001 || v > 90.0001)
      fail("{}: latitude value {} is not a latitude in [-90, 90]", where, v);
  for (double v : file_lon)
    if (!std::isfinite(v)) fail("{}: longitude value {} is not finite", where, v);

  // Latitude: strictly monotonic, made ascending.
  bool descending = H > 1 && file_lat[1] < file_lat[0];
  for (size_t i = 1; i < H; ++i) {
    bool ok = descending ? file_lat[i] < file_lat[i - 1] : file_lat[i] > file_lat[i - 1];
    if (!ok)
      fail("{}: latitude is not strictly monotonic (index {}: {} after {})", where, i, file_lat[i], file_lat[i - 1]);
  }
  out.orientation.lat_descending = descending;
  out.grid.lat = file_lat;
  if (descending) std::reverse(out.grid.lat.begin(), out.grid.lat.end());

  // Longitude: ascending in the file, possibly across the 0/360 line once (a region stored
  // 340..357.5, 0..37.5 is 340..397.5), and spanning at most one turn.
  std::vector<double> lon = file_lon;
  bool crossed = false;
  for (size_t j = 1; j < W; ++j) {
    if (lon[j] > lon[j - 1]) continue;
    if (!crossed && lon[j - 1] - lon[j] > 180.0 && lon[j] + 360.0 > lon[j - 1]) {
      crossed = true;
      for (size_t k = j; k < W; ++k) lon[k] += 360.0;
      continue;
    }
    fail("{}: longitude does not increase (index {}: {} after {}); only eastward-ascending longitudes are supported",
         where, j, file_lon[j], file_lon[j - 1]);
  }
  out.orientation.lon_signed = file_lon[0] < 0;
  // Global when evenly spaced and W steps cover 360 degrees; W - 1 steps covering 360 degrees is a
  // global grid that repeats its first meridian at the end (0..360 or -180..180 inclusive): the
  // last column is dropped on read and restored on write.
  bool global = false;
  size_t Wc = W;  // canonical columns
  if (W > 2) {
    const double step = (lon[W - 1] - lon[0]) / double(W - 1);
    bool even = true;
    for (size_t j = 1; j < W; ++j)
      if (std::abs((lon[j] - lon[j - 1]) - step) > 1e-3 * step) even = false;
    if (even && std::abs(step * double(W) - 360.0) < 1e-3 * step) {
      global = true;
    } else if (even && std::abs(step * double(W - 1) - 360.0) < 1e-3 * step) {
      global = true;
      Wc = W - 1;
      out.orientation.lon_repeated = true;
    }
  }
  if (!global && lon[W - 1] - lon[0] > 360.0)
    fail("{}: longitudes {}..{} cover more than 360 degrees", where, file_lon[0], file_lon[W - 1]);
  out.grid.periodic = global;
  if (global) {
    std::vector<double> wrapped(Wc);
    for (size_t j = 0; j < Wc; ++j) {
      // Rounding noise around 0 (MERRA-2 stores -5.9e-13) must not wrap to just under 360.
      double v = std::fmod(lon[j], 360.0);
      if (std::abs(v) < 1e-9 || std::abs(v - 360.0) < 1e-9 || std::abs(v + 360.0) < 1e-9) v = 0.0;
      if (v < 0) v += 360.0;
      if (v >= 360.0) v -= 360.0;
      wrapped[j] = v;
    }
    size_t k = static_cast<size_t>(std::min_element(wrapped.begin(), wrapped.end()) - wrapped.begin());
    out.orientation.lon_shift = static_cast<int64_t>(k);
    out.grid.lon.resize(Wc);
    for (size_t j = 0; j < Wc; ++j) out.grid.lon[j] = wrapped[(j + k) % Wc];
    for (size_t j = 1; j < Wc; ++j)
      if (!(out.grid.lon[j] > out.grid.lon[j - 1]))
        fail("{}: longitude cannot be made ascending from 0 (value {} after {})", where, out.grid.lon[j],
             out.grid.lon[j - 1]);
  } else {
    double shift = -360.0 * std::floor(lon[0] / 360.0);
    out.grid.lon.resize(W);
    for (size_t j = 0; j < W; ++j) out.grid.lon[j] = lon[j] + shift;
  }
  return out;
}

template <class T>
void to_canonical(const T* file, T* canonical, int64_t H, int64_t W, const geo::Orientation& o) {
  const int64_t s = ((o.lon_shift % W) + W) % W, Wf = o.file_width(W);
  for (int64_t i = 0; i < H; ++i) {
    const T* src = file + (o.lat_descending ? H - 1 - i : i) * Wf;
    T* dst = canonical + i * W;
    // canonical column j is file column (j + s) % W
    std::memcpy(dst, src + s, static_cast<size_t>(W - s) * sizeof(T));
    if (s) std::memcpy(dst + (W - s), src, static_cast<size_t>(s) * sizeof(T));
  }
}

template <class T>
void to_file_order(const T* canonical, T* file, int64_t H, int64_t W, const geo::Orientation& o) {
  const int64_t s = ((o.lon_shift % W) + W) % W, Wf = o.file_width(W);
  for (int64_t i = 0; i < H; ++i) {
    const T* src = canonical + i * W;
    T* dst = file + (o.lat_descending ? H - 1 - i : i) * Wf;
    std::memcpy(dst + s, src, static_cast<size_t>(W - s) * sizeof(T));
    if (s) std::memcpy(dst, src + (W - s), static_cast<size_t>(s) * sizeof(T));
    if (o.lon_repeated) dst[W] = dst[0];
  }
}

template void to_canonical<float>(const float*, float*, int64_t, int64_t, const geo::Orientation&);
template void to_canonical<double>(const double*, double*, int64_t, int64_t, const geo::Orientation&);
template void to_canonical<uint8_t>(const uint8_t*, uint8_t*, int64_t, int64_t, const geo::Orientation&);
template void to_file_order<float>(const float*, float*, int64_t, int64_t, const geo::Orientation&);
template void to_file_order<double>(const double*, double*, int64_t, int64_t, const geo::Orientation&);
template void to_file_order<uint8_t>(const uint8_t*, uint8_t*, int64_t, int64_t, const geo::Orientation&);
template void to_file_order<int32_t>(const int32_t*, int32_t*, int64_t, int64_t, const geo::Orientation&);

std::vector<double> file_latitudes(const geo::Grid& grid, const geo::Orientation& o) {
  std::vector<double> lat = grid.lat;
  if (o.lat_descending) std::reverse(lat.begin(), lat.end());
  return lat;
}

std::vector<double> file_longitudes(const geo::Grid& grid, const geo::Orientation& o) {
  const auto W = static_cast<int64_t>(grid.lon.size());
  if (W == 0) return {};
  std::vector<double> lon(static_cast<size_t>(W));
  geo::Orientation rotation;
  rotation.lon_shift = o.lon_shift;
  to_file_order(grid.lon.data(), lon.data(), 1, W, rotation);
  if (o.lon_signed)
    for (double& v : lon) v -= 360.0 * std::floor((v + 180.0) / 360.0);
  if (o.lon_repeated) lon.push_back(lon.front() + 360.0);
  return lon;
}

}  // namespace climseg::io
