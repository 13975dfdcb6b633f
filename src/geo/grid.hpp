// The latitude-longitude grid in climseg's one canonical orientation: latitude ascending
// (south to north), longitude ascending from [0, 360), periodic in longitude when global.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace climseg::geo {

// Earth radius in metres (CESM's shr_const_rearth), used for areas, distances and derivatives.
inline constexpr double kEarthRadius = 6.37122e6;
inline constexpr double kPi = 3.14159265358979323846;
inline constexpr double kDegToRad = kPi / 180.0;

struct Grid {
  std::vector<double> lat;  // (H) degrees north, strictly ascending
  std::vector<double> lon;  // (W) degrees east, strictly ascending, lon[0] in [0, 360)
  bool periodic = false;    // global in longitude: column W-1 neighbours column 0

  int64_t height() const { return static_cast<int64_t>(lat.size()); }
  int64_t width() const { return static_cast<int64_t>(lon.size()); }
  int64_t size() const { return height() * width(); }
  // Mean spacing in degrees.
  double dlat() const;
  double dlon() const;
  // "768x1152" style.
  std::string shape_str() const;
  // Same shape and coordinates within tol degrees.
  bool same_as(const Grid& other, double tol = 1e-6) const;
  // Area in m² of a cell in each row (H): the band between mid-latitudes times the longitude
  // width, exact on the sphere. Rows sum to 4πR² on a global grid.
  std::vector<double> row_areas() const;
  // cos(latitude) per row (H), the usual relative area weight.
  std::vector<double> row_cos_lat() const;

  // CAM finite-volume style global grid: H latitudes from -90 to 90 inclusive, W longitudes from 0.
  static Grid cam(int64_t height, int64_t width);
  // Cell-centred global grid: latitudes -90 + (i + 0.5) * 180 / H.
  static Grid centred(int64_t height, int64_t width);
};

// How a file's own grid maps to the canonical one, so writers can give results back as they came.
struct Orientation {
  bool lat_descending = false;  // file stores north first (ERA5, ERA-Interim)
  int64_t lon_shift = 0;        // canonical column j is file column (j + lon_shift) % W
  bool lon_signed = false;      // file longitudes run -180..180 (MERRA-2)
  // The file repeats its first meridian as one more last column (0..360 or -180..180 inclusive):
  // the canonical grid has it once (W columns), the file W + 1.
  bool lon_repeated = false;
  bool identity() const { return !lat_descending && lon_shift == 0 && !lon_signed && !lon_repeated; }
  // Columns of the file for a canonical width W.
  int64_t file_width(int64_t width) const { return width + (lon_repeated ? 1 : 0); }
  // A canonical longitude written as the file writes longitudes: in [-180, 180) when its
  // longitudes are signed, else in [0, 360). Tables (tracks, events) use it, so a file in
  // -180..180 gets -180..180 back.
  double file_longitude(double lon) const;
};

// Great-circle distance in metres between two points given in degrees.
double great_circle_m(double lat1, double lon1, double lat2, double lon2);

}  // namespace climseg::geo
