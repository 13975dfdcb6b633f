// Files for the bad-input tests: CDL text turned into NetCDF by ncgen (netcdf-bin), and a netCDF-4
// file whose header claims a huge grid written through the C API (its coordinates are real, its
// field is never written, so the file stays small).
#pragma once

#include <netcdf.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace climseg::test {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A CAM-like file: time (noleap days), lev (hPa), lat, lon; TMQ (with _FillValue) and U(lev).
// `lat`, `times` and `tmq` (12 values) are CDL lists.
inline std::string cam_cdl(const std::string& lat = "-30, 0, 30", const std::string& times = "0, 1",
                           const std::string& tmq = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12") {
  const size_t steps = std::count(times.begin(), times.end(), ',') + 1;
  std::string tmq_all, u_all;
  for (size_t t = 0; t < steps; ++t) tmq_all += (t ? ", " : "") + tmq;
  for (size_t t = 0; t < 2 * steps; ++t) u_all += std::string(t ? ", " : "") + "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12";
  return "netcdf f {\ndimensions:\n time = UNLIMITED ; lev = 2 ; lat = 3 ; lon = 4 ;\nvariables:\n"
         " double time(time) ; time:units = \"days since 2000-01-01\" ; time:calendar = \"noleap\" ;\n"
         " double lev(lev) ; lev:units = \"hPa\" ;\n"
         " double lat(lat) ; lat:units = \"degrees_north\" ;\n"
         " double lon(lon) ; lon:units = \"degrees_east\" ;\n"
         " float TMQ(time, lat, lon) ; TMQ:units = \"kg m-2\" ; TMQ:_FillValue = -999.f ;\n"
         " float U(time, lev, lat, lon) ; U:units = \"m s-1\" ;\n"
         "data:\n time = " +
         times + " ;\n lev = 1000, 500 ;\n lat = " + lat + " ;\n lon = 0, 90, 180, 270 ;\n TMQ = " + tmq_all +
         " ;\n U = " + u_all + " ;\n}\n";
}

// Writes `cdl` to path (via ncgen); kind "nc4" for netCDF-4, else classic.
inline void ncgen(const std::filesystem::path& path, const std::string& cdl, const std::string& kind = "classic") {
  const std::filesystem::path text = path.string() + ".cdl";
  std::ofstream(text) << cdl;
  const auto r = run_command("ncgen -k " + std::string(kind == "nc4" ? "nc4" : "classic") + " -o " + path.string() +
                             " " + text.string());
  std::filesystem::remove(text);
  if (r.exit_code != 0) throw std::runtime_error("ncgen failed: " + r.err);
}

// A netCDF-4 file on an nlat x nlon grid with real coordinates and a TMQ(time, lat, lon) that is
// declared (chunked, deflated) but never written.
inline void huge_grid_file(const std::filesystem::path& path, size_t nlat, size_t nlon) {
  int nc = -1, dt = -1, dlat = -1, dlon = -1, vt = -1, vlat = -1, vlon = -1, v = -1;
  auto ok = [](int rc) {
    if (rc != NC_NOERR) throw std::runtime_error(nc_strerror(rc));
  };
  ok(nc_create(path.c_str(), NC_CLOBBER | NC_NETCDF4, &nc));
  ok(nc_def_dim(nc, "time", 1, &dt));
  ok(nc_def_dim(nc, "lat", nlat, &dlat));
  ok(nc_def_dim(nc, "lon", nlon, &dlon));
  ok(nc_def_var(nc, "time", NC_DOUBLE, 1, &dt, &vt));
  ok(nc_put_att_text(nc, vt, "units", 21, "days since 2000-01-01"));
  ok(nc_def_var(nc, "lat", NC_DOUBLE, 1, &dlat, &vlat));
  ok(nc_put_att_text(nc, vlat, "units", 13, "degrees_north"));
  ok(nc_def_var(nc, "lon", NC_DOUBLE, 1, &dlon, &vlon));
  ok(nc_put_att_text(nc, vlon, "units", 12, "degrees_east"));
  const int dims[3] = {dt, dlat, dlon};
  ok(nc_def_var(nc, "TMQ", NC_FLOAT, 3, dims, &v));
  const size_t chunks[3] = {1, 256, 256};
  ok(nc_def_var_chunking(nc, v, NC_CHUNKED, chunks));
  ok(nc_def_var_deflate(nc, v, 0, 1, 1));
  ok(nc_enddef(nc));
  std::vector<double> lat(nlat), lon(nlon);
  for (size_t i = 0; i < nlat; ++i) lat[i] = -90.0 + 180.0 * (static_cast<double>(i) + 0.5) / static_cast<double>(nlat);
  for (size_t j = 0; j < nlon; ++j) lon[j] = 360.0 * static_cast<double>(j) / static_cast<double>(nlon);
  const double t0 = 0;
  ok(nc_put_var_double(nc, vt, &t0));
  ok(nc_put_var_double(nc, vlat, lat.data()));
  ok(nc_put_var_double(nc, vlon, lon.data()));
  ok(nc_close(nc));
}

}  // namespace climseg::test
