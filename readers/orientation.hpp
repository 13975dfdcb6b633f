// Canonical orientation: from a file's own latitude/longitude to climseg's grid (latitude
// ascending, longitude ascending from [0, 360)) and back, for coordinates and for (H, W) fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "geo/grid.hpp"

namespace climseg::io {

struct CanonicalGrid {
  geo::Grid grid;
  geo::Orientation orientation;
};

// Makes a file's 1-D latitude and longitude canonical. Longitudes ascend, once possibly across
// the 0/360 line (340..357.5, 0..37.5 reads as 340..397.5). A grid is global (periodic) when its
// longitudes are evenly spaced and W steps cover 360°, or W - 1 steps do (the first meridian
// repeated at the end, 0..360 inclusive: that column is dropped, Orientation::lon_repeated); it is
// then rotated so that the first column is the smallest longitude in [0, 360). A regional grid
// keeps its columns and is shifted by a multiple of 360° so that lon[0] is in [0, 360) (its
// longitudes may then pass 360). Throws Error naming `where` when a coordinate is not finite, not
// strictly monotonic, or when the longitude decreases otherwise or spans more than 360°.
CanonicalGrid canonical_grid(const std::vector<double>& file_lat, const std::vector<double>& file_lon,
                             const std::string& where);

// Copies one field from the file's order to canonical order, and back: canonical (H, W), file
// (H, o.file_width(W)) row-major (to_file_order writes the repeated meridian too).
template <class T>
void to_canonical(const T* file, T* canonical, int64_t height, int64_t width, const geo::Orientation& o);
template <class T>
void to_file_order(const T* canonical, T* file, int64_t height, int64_t width, const geo::Orientation& o);

// The file's own coordinate values rebuilt from the canonical grid (writers give results back in
// the input's layout): latitudes reversed when descending, longitudes rotated back and, for files
// that used -180..180, mapped back into [-180, 180).
std::vector<double> file_latitudes(const geo::Grid& grid, const geo::Orientation& o);
std::vector<double> file_longitudes(const geo::Grid& grid, const geo::Orientation& o);

}  // namespace climseg::io
