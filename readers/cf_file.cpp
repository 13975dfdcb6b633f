// CF semantics of one file: coordinate discovery, time decoding, packing and masking, reading fields.
#include "readers/cf_file.hpp"

#include <fmt/format.h>
#include <netcdf.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "core/crash_note.hpp"
#include "core/error.hpp"
#include "core/h5.hpp"
#include "readers/direct_read.hpp"
#include "readers/limits.hpp"
#include "readers/netcdf_file.hpp"
#include "readers/orientation.hpp"
#include "readers/units.hpp"

namespace climseg::io {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool one_of(const std::string& s, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

bool numeric_type(nc_type t) { return t >= NC_BYTE && t <= NC_UINT64 && t != NC_CHAR; }

// Everything the scan needs to know about one variable.
struct VarInfo {
  int id = -1;
  std::string name;
  nc_type type = NC_NAT;
  std::vector<int> dimids;
  std::vector<std::string> dims;
  std::vector<int64_t> shape;
  std::string units, standard_name, axis, positive, long_name, calendar, bounds;
  bool coordinate() const { return dims.size() == 1 && dims[0] == name; }
};

std::vector<VarInfo> list_vars(int ncid) {
  int nvars = 0;
  nc_inq_nvars(ncid, &nvars);
  std::vector<VarInfo> out;
  for (int v = 0; v < nvars; ++v) {
    VarInfo i;
    i.id = v;
    i.name = nc_var_name(ncid, v);
    nc_inq_vartype(ncid, v, &i.type);
    i.dimids = nc_var_dims(ncid, v);
    for (int d : i.dimids) {
      i.dims.push_back(nc_dim_name(ncid, d));
      i.shape.push_back(static_cast<int64_t>(nc_dim_len(ncid, d)));
    }
    i.units = nc_att_text(ncid, v, "units");
    i.standard_name = nc_att_text(ncid, v, "standard_name");
    i.axis = nc_att_text(ncid, v, "axis");
    i.positive = nc_att_text(ncid, v, "positive");
    i.long_name = nc_att_text(ncid, v, "long_name");
    i.calendar = nc_att_text(ncid, v, "calendar");
    i.bounds = nc_att_text(ncid, v, "bounds");
    out.push_back(std::move(i));
  }
  return out;
}

bool degree_units(const std::string& u) {
  std::string l = lower(u);
  return l.rfind("degree", 0) == 0 || l == "deg";
}

int lat_score(const VarInfo& v) {
  if (!numeric_type(v.type)) return 0;
  std::string u = lower(v.units), n = lower(v.name), sn = lower(v.standard_name);
  int s = 0;
  if (sn == "latitude") s += 8;
  if (one_of(u, {"degrees_north", "degree_north", "degrees_n", "degree_n", "degreesn", "degreen", "degrees north",
                 "degree north"}))
    s += 6;
  if (one_of(n, {"lat", "latitude", "lats", "nav_lat", "xlat", "latitudes"})) s += 4;
  if (n == "y" && degree_units(u)) s += 3;
  if (lower(v.axis) == "y" && (u.empty() || degree_units(u))) s += 2;
  if (s > 0 && v.coordinate()) s += 1;
  return s;
}

int lon_score(const VarInfo& v) {
  if (!numeric_type(v.type)) return 0;
  std::string u = lower(v.units), n = lower(v.name), sn = lower(v.standard_name);
  int s = 0;
  if (sn == "longitude") s += 8;
  if (one_of(u, {"degrees_east", "degree_east", "degrees_e", "degree_e", "degreese", "degreee", "degrees east",
                 "degree east"}))
    s += 6;
  if (one_of(n, {"lon", "longitude", "lons", "nav_lon", "xlong", "long", "longitudes"})) s += 4;
  if (n == "x" && degree_units(u)) s += 3;
  if (lower(v.axis) == "x" && (u.empty() || degree_units(u))) s += 2;
  if (s > 0 && v.coordinate()) s += 1;
  return s;
}

int time_score(const VarInfo& v) {
  if (!numeric_type(v.type) || v.dims.size() > 1) return 0;
  std::string u = lower(v.units), n = lower(v.name), sn = lower(v.standard_name);
  int s = 0;
  if (sn == "time") s += 8;
  if (u.find(" since ") != std::string::npos) s += 6;
  if (lower(v.axis) == "t") s += 4;
  if (one_of(n, {"time", "t", "timestep", "times", "time_counter", "valid_time"})) s += 3;
  return s;
}

bool vertical_coordinate(const VarInfo& v) {
  if (!v.coordinate() || !numeric_type(v.type)) return false;
  std::string u = lower(v.units), n = lower(v.name), sn = lower(v.standard_name);
  if (lower(v.axis) == "z" || !v.positive.empty()) return true;
  if (one_of(sn, {"air_pressure", "atmosphere_hybrid_sigma_pressure_coordinate", "atmosphere_sigma_coordinate",
                  "atmosphere_ln_pressure_coordinate", "height", "depth", "altitude", "model_level_number"}))
    return true;
  if (one_of(u, {"pa", "hpa", "mb", "mbar", "millibar", "millibars", "hectopascal", "hectopascals"})) return true;
  if (n.rfind("lev", 0) == 0 || n.rfind("plev", 0) == 0 || n.rfind("isobaric", 0) == 0) return true;
  return one_of(n, {"pressure", "pres", "z", "height", "depth", "altitude", "alt", "pfull", "phalf", "ilev",
                    "pressure_level", "plevel", "levels"});
}

double default_fill(nc_type t) {
  switch (t) {
    case NC_SHORT:
      return NC_FILL_SHORT;
    case NC_USHORT:
      return NC_FILL_USHORT;
    case NC_INT:
      return NC_FILL_INT;
    case NC_UINT:
      return NC_FILL_UINT;
    case NC_INT64:
      return static_cast<double>(NC_FILL_INT64);
    case NC_UINT64:
      return static_cast<double>(NC_FILL_UINT64);
    case NC_FLOAT:
      return NC_FILL_FLOAT;
    case NC_DOUBLE:
      return NC_FILL_DOUBLE;
    default:
      return NAN;  // bytes have no default fill (NUG)
  }
}

int type_bits(nc_type t) {
  switch (t) {
    case NC_BYTE:
    case NC_UBYTE:
      return 8;
    case NC_SHORT:
    case NC_USHORT:
      return 16;
    case NC_INT:
    case NC_UINT:
      return 32;
    default:
      return 64;
  }
}

// Elements of a variable, checked against the memory budget before anything is allocated.
int64_t checked_elements(const VarInfo& v, int64_t element_bytes, const std::string& path) {
  double n = 1;
  for (int64_t s : v.shape) n *= static_cast<double>(s);
  const int64_t count = n < 9.0e18 ? static_cast<int64_t>(n) : std::numeric_limits<int64_t>::max();
  check_allocation(path, "variable " + v.name, count, element_bytes);
  return count;
}

std::vector<double> read_all_double(int ncid, const VarInfo& v, const std::string& path) {
  const int64_t n = checked_elements(v, sizeof(double), path);
  std::vector<double> out(static_cast<size_t>(n));
  if (n > 0) nc_check(nc_get_var_double(ncid, v.id, out.data()), path, "cannot read", v.name);
  return out;
}

std::string read_text(int ncid, const VarInfo& v, const std::string& path) {
  const int64_t n = checked_elements(v, 1, path);
  std::string out(static_cast<size_t>(n), '\0');
  if (n > 0) nc_check(nc_get_var_text(ncid, v.id, out.data()), path, "cannot read", v.name);
  while (!out.empty() && (out.back() == '\0' || out.back() == ' ')) out.pop_back();
  return to_utf8(out);
}

// DeepCAM: group "climate" with data (H, W, 16) and labels_0 (H, W), no coordinates.
bool scan_deepcam(int ncid, FileMeta& m) {
  int grp = -1;
  if (nc_inq_grp_ncid(ncid, "climate", &grp) != NC_NOERR) return false;
  int data = nc_find_var(grp, "data");
  if (data < 0) return false;
  auto shape = nc_var_shape(grp, data);
  if (shape.size() != 3 || shape[2] != deepcam_channels().size()) return false;
  m.deepcam = true;
  const auto H = static_cast<int64_t>(shape[0]), W = static_cast<int64_t>(shape[1]);
  if (H < 2 || W < 2) fail("{}: climate/data is {}x{}x16: no latitude-longitude grid to read", m.path, H, W);
  // The whole block is read at once (channel-last), then transposed: twice its size.
  check_allocation(m.path, "climate/data", H * W * 16 * 2, sizeof(float));
  // DeepCAM samples are CAM5 0.25° output: latitude -90..90 inclusive, longitude from 0.
  m.grid = geo::Grid::cam(H, W);
  m.lat = m.grid.lat;
  m.lon = m.grid.lon;
  m.lat_name = "lat";
  m.lon_name = "lon";
  m.steps = 1;
  for (size_t k = 0; k < deepcam_channels().size(); ++k) {
    VarMeta v;
    v.name = deepcam_channels()[k];
    v.type = "float";
    v.dims = {"lat", "lon"};
    v.shape = {H, W};
    v.lat_dim = 0;
    v.lon_dim = 1;
    v.field = true;
    v.deepcam_channel = static_cast<int>(k);
    v.long_name = "climate/data channel " + std::to_string(k);
    m.vars.push_back(v);
  }
  int labels = nc_find_var(grp, "labels_0");
  if (labels >= 0) {
    auto ls = nc_var_shape(grp, labels);
    VarMeta v;
    v.name = "climate/labels_0";
    v.type = "float";
    v.dims = {"lat", "lon"};
    v.shape = {H, W};
    v.lat_dim = 0;
    v.lon_dim = 1;
    v.field = ls.size() == 2 && static_cast<int64_t>(ls[0]) == H && static_cast<int64_t>(ls[1]) == W;
    if (!v.field) v.why_not = "labels_0 does not have the shape of climate/data";
    m.vars.push_back(v);
  }
  return true;
}

std::string grid_refusal(const VarInfo* lat, const VarInfo* lon, const std::vector<VarInfo>& vars) {
  if (lat == nullptr || lon == nullptr) {
    for (const VarInfo& v : vars)
      for (const std::string& d : v.dims)
        if (one_of(lower(d),
                   {"ncol", "ncells", "ncell", "cell", "cells", "nod2", "node", "nodes", "nface", "nmesh2d_face"}))
          return fmt::format(
              "unstructured grid (variable {} is over dimension {}): this command reads latitude-longitude "
              "grids; climseg remap --to HxW makes one",
              v.name, d);
    return "no latitude/longitude coordinates (looked for standard_name, units degrees_north/east, axis Y/X and "
           "the names lat/latitude, lon/longitude): not a latitude-longitude grid";
  }
  if (lat->dims.empty() || lon->dims.empty())
    return fmt::format("{} and {} are scalars: a single point, not a latitude-longitude grid", lat->name, lon->name);
  if (lat->dims.size() == 1 && lon->dims.size() == 1 && lat->dims[0] == lon->dims[0])
    return fmt::format(
        "unstructured grid ({} and {} are both over dimension {}, {} columns): this command reads "
        "latitude-longitude grids; climseg remap --to HxW makes one",
        lat->name, lon->name, lat->dims[0], lat->shape[0]);
  if (lat->dims.size() >= 2 || lon->dims.size() >= 2) {
    for (const std::string& d : lat->dims) {
      std::string l = lower(d);
      if (l.find("station") != std::string::npos || l.find("site") != std::string::npos || l == "time" ||
          l.find("point") != std::string::npos || l.find("obs") != std::string::npos)
        return fmt::format("{} is over ({}): point or station data, not a latitude-longitude grid", lat->name,
                           fmt::join(lat->dims, ", "));
    }
    return fmt::format("curvilinear grid ({} and {} are 2-D over ({})): regrid to latitude-longitude first", lat->name,
                       lon->name, fmt::join(lat->dims, ", "));
  }
  return {};
}

}  // namespace

const std::vector<std::string>& deepcam_channels() {
  static const std::vector<std::string> names = {"TMQ",  "U850", "V850",  "UBOT", "VBOT",   "QREFHT", "PS",   "PSL",
                                                 "T200", "T500", "PRECT", "TS",   "TREFHT", "Z1000",  "Z200", "ZBOT"};
  return names;
}

double LevelAxis::pa_per_unit() const { return pascals_per_unit(units); }

std::string LevelAxis::describe() const {
  std::vector<std::string> parts;
  for (double v : values) parts.push_back(fmt::format("{:g}", v));
  return fmt::format("{}{}{}", fmt::join(parts, ", "), units.empty() ? "" : " ", units);
}

const VarMeta* FileMeta::find_var(const std::string& name) const {
  for (const VarMeta& v : vars)
    if (v.name == name) return &v;
  return nullptr;
}

const LevelAxis* FileMeta::find_level(const std::string& name) const {
  for (const LevelAxis& l : levels)
    if (l.name == name) return &l;
  return nullptr;
}

std::vector<std::string> FileMeta::field_names() const {
  std::vector<std::string> out;
  for (const VarMeta& v : vars)
    if (v.field) out.push_back(v.name);
  return out;
}

TimeUnits FileMeta::time_axis_units() const { return TimeUnits::parse(time_units, calendar); }

DateTime FileMeta::date(int64_t t) const { return time_axis_units().decode(time_values.at(static_cast<size_t>(t))); }

void to_json(nlohmann::json& j, const FileMeta& m) {
  using nlohmann::json;
  j = json{{"path", m.path},
           {"format", m.format},
           {"grid_error", m.grid_error},
           {"lat_name", m.lat_name},
           {"lon_name", m.lon_name},
           {"lat", m.lat},
           {"lon", m.lon},
           {"glat", m.grid.lat},
           {"glon", m.grid.lon},
           {"periodic", m.grid.periodic},
           {"lat_descending", m.orientation.lat_descending},
           {"lon_shift", m.orientation.lon_shift},
           {"lon_signed", m.orientation.lon_signed},
           {"lon_repeated", m.orientation.lon_repeated},
           {"time_name", m.time_name},
           {"time_dim", m.time_dim},
           {"time_units", m.time_units},
           {"calendar", m.calendar},
           {"time_decoded", m.time_decoded},
           {"time_note", m.time_note},
           {"time_values", m.time_values},
           {"steps", m.steps},
           {"deepcam", m.deepcam}};
  json levels = json::array();
  for (const LevelAxis& l : m.levels)
    levels.push_back({{"name", l.name},
                      {"dim", l.dim},
                      {"values", l.values},
                      {"units", l.units},
                      {"standard_name", l.standard_name},
                      {"positive", l.positive}});
  j["levels"] = levels;
  json vars = json::array();
  for (const VarMeta& v : m.vars)
    vars.push_back({{"name", v.name},
                    {"type", v.type},
                    {"dims", v.dims},
                    {"shape", v.shape},
                    {"units", v.units},
                    {"long_name", v.long_name},
                    {"standard_name", v.standard_name},
                    {"time_dim", v.time_dim},
                    {"level_dim", v.level_dim},
                    {"lat_dim", v.lat_dim},
                    {"lon_dim", v.lon_dim},
                    {"level_axis", v.level_axis},
                    {"field", v.field},
                    {"why_not", v.why_not},
                    {"deepcam_channel", v.deepcam_channel}});
  j["vars"] = vars;
}

namespace {
// JSON has no NaN or Inf: dump() writes them as null. Coordinates of a damaged file may hold them
// (its grid_error then says why), so null reads back as NaN.
std::vector<double> doubles_of(const nlohmann::json& a) {
  std::vector<double> out;
  out.reserve(a.size());
  for (const auto& x : a) out.push_back(x.is_null() ? std::numeric_limits<double>::quiet_NaN() : x.get<double>());
  return out;
}
}  // namespace

void from_json(const nlohmann::json& j, FileMeta& m) {
  m.path = j.at("path");
  m.format = j.at("format");
  m.grid_error = j.at("grid_error");
  m.lat_name = j.at("lat_name");
  m.lon_name = j.at("lon_name");
  m.lat = doubles_of(j.at("lat"));
  m.lon = doubles_of(j.at("lon"));
  m.grid.lat = doubles_of(j.at("glat"));
  m.grid.lon = doubles_of(j.at("glon"));
  m.grid.periodic = j.at("periodic");
  m.orientation.lat_descending = j.at("lat_descending");
  m.orientation.lon_shift = j.at("lon_shift");
  m.orientation.lon_signed = j.at("lon_signed");
  m.orientation.lon_repeated = j.at("lon_repeated");
  m.time_name = j.at("time_name");
  m.time_dim = j.at("time_dim");
  m.time_units = j.at("time_units");
  m.calendar = j.at("calendar");
  m.time_decoded = j.at("time_decoded");
  m.time_note = j.at("time_note");
  m.time_values = doubles_of(j.at("time_values"));
  m.steps = j.at("steps");
  m.deepcam = j.at("deepcam");
  m.levels.clear();
  for (const auto& l : j.at("levels")) {
    LevelAxis a;
    a.name = l.at("name");
    a.dim = l.at("dim");
    a.values = doubles_of(l.at("values"));
    a.units = l.at("units");
    a.standard_name = l.at("standard_name");
    a.positive = l.at("positive");
    m.levels.push_back(std::move(a));
  }
  m.vars.clear();
  for (const auto& v : j.at("vars")) {
    VarMeta x;
    x.name = v.at("name");
    x.type = v.at("type");
    x.dims = v.at("dims").get<std::vector<std::string>>();
    x.shape = v.at("shape").get<std::vector<int64_t>>();
    x.units = v.at("units");
    x.long_name = v.at("long_name");
    x.standard_name = v.at("standard_name");
    x.time_dim = v.at("time_dim");
    x.level_dim = v.at("level_dim");
    x.lat_dim = v.at("lat_dim");
    x.lon_dim = v.at("lon_dim");
    x.level_axis = v.at("level_axis");
    x.field = v.at("field");
    x.why_not = v.at("why_not");
    x.deepcam_channel = v.at("deepcam_channel");
    m.vars.push_back(std::move(x));
  }
}

FileMeta scan_file(const std::string& path) {
  h5::LibraryLock lock(h5::library_mutex());
  NcFile file(path);
  const int ncid = file.id();
  FileMeta m;
  m.path = path;
  m.format = file.format_name();
  if (scan_deepcam(ncid, m)) return m;

  std::vector<VarInfo> vars = list_vars(ncid);
  std::set<std::string> bounds;
  for (const VarInfo& v : vars)
    if (!v.bounds.empty()) bounds.insert(v.bounds);

  auto best = [&](auto score) -> const VarInfo* {
    const VarInfo* pick = nullptr;
    int top = 0;
    for (const VarInfo& v : vars) {
      if (bounds.count(v.name)) continue;
      int s = score(v);
      if (s > top) {
        top = s;
        pick = &v;
      }
    }
    return pick;
  };
  const VarInfo* lat = best(lat_score);
  const VarInfo* lon = best(lon_score);
  m.grid_error = grid_refusal(lat, lon, vars);
  std::string lat_dim, lon_dim;
  if (m.grid_error.empty()) {
    lat_dim = lat->dims[0];
    lon_dim = lon->dims[0];
    m.lat_name = lat->name;
    m.lon_name = lon->name;
    m.lat = read_all_double(ncid, *lat, path);
    m.lon = read_all_double(ncid, *lon, path);
    try {
      CanonicalGrid cg = canonical_grid(m.lat, m.lon, fmt::format("coordinates {}/{}", lat->name, lon->name));
      m.grid = std::move(cg.grid);
      m.orientation = cg.orientation;
    } catch (const Error& e) {
      m.grid_error = e.what();
      lat_dim.clear();
      lon_dim.clear();
    }
  }

  // Vertical axes: 1-D coordinate variables that look vertical.
  std::set<std::string> level_dims;
  for (const VarInfo& v : vars) {
    if (&v == lat || &v == lon || !vertical_coordinate(v)) continue;
    if (time_score(v) >= 6) continue;
    LevelAxis a;
    a.name = v.name;
    a.dim = v.dims[0];
    a.values = read_all_double(ncid, v, path);
    a.units = v.units;
    a.standard_name = v.standard_name;
    a.positive = v.positive;
    level_dims.insert(a.dim);
    m.levels.push_back(std::move(a));
  }

  // The record axis: a time coordinate, else the leading non-spatial dimension of the fields.
  const VarInfo* time = nullptr;
  {
    int top = 0;
    for (const VarInfo& v : vars) {
      if (&v == lat || &v == lon || level_dims.count(v.coordinate() ? v.dims[0] : std::string())) continue;
      int s = time_score(v);
      if (s > top) {
        top = s;
        time = &v;
      }
    }
  }
  auto is_spatial = [&](const std::string& d) { return d == lat_dim || d == lon_dim; };
  if (time != nullptr) {
    m.time_name = time->name;
    m.time_dim = time->dims.empty() ? std::string() : time->dims[0];
    m.time_units = time->units;
    m.calendar = time->calendar;
    m.time_values = read_all_double(ncid, *time, path);
  } else {
    // ERA-Interim's `month`, or an unlimited dimension without a coordinate variable.
    for (const VarInfo& v : vars) {
      if (v.dims.size() < 3 || !numeric_type(v.type)) continue;
      const std::string& d0 = v.dims[0];
      if (is_spatial(d0) || level_dims.count(d0)) continue;
      if (std::find(v.dims.begin(), v.dims.end(), lat_dim) == v.dims.end()) continue;
      m.time_dim = d0;
      for (const VarInfo& c : vars)
        if (c.coordinate() && c.name == d0 && numeric_type(c.type)) {
          m.time_name = c.name;
          m.time_units = c.units;
          m.calendar = c.calendar;
          m.time_values = read_all_double(ncid, c, path);
        }
      if (m.time_name.empty()) {
        int64_t n = v.shape[0];
        for (int64_t k = 0; k < n; ++k) m.time_values.push_back(static_cast<double>(k));
        m.time_note = fmt::format("dimension {} has no coordinate variable: steps are numbered from 0", d0);
      }
      break;
    }
  }
  m.steps = m.time_dim.empty() ? 1 : static_cast<int64_t>(m.time_values.size());
  if (!m.time_dim.empty() && m.steps == 0) m.steps = 0;

  // Time units: CF "UNIT since DATE"; files written by GEMPAK keep an integer `timestep` with a text
  // `reftime` (hours since that time).
  if (time != nullptr && m.time_units.empty()) {
    for (const VarInfo& v : vars)
      if (v.name == "reftime" && v.type == NC_CHAR) {
        std::string ref = read_text(ncid, v, path);
        try {
          parse_datetime(ref);
          m.time_units = "hours since " + ref;
          m.time_note = fmt::format("time units taken as hours since reftime '{}' (GEMPAK convention)", ref);
        } catch (const Error&) {
        }
      }
  }
  if (!m.time_values.empty() && m.time_note.find("numbered") == std::string::npos) {
    if (lower(m.time_units).find(" since ") != std::string::npos) {
      try {
        TimeUnits u = TimeUnits::parse(m.time_units, m.calendar);
        for (double v : m.time_values) u.decode(v);
        m.time_decoded = true;
      } catch (const Error& e) {
        m.time_note = e.what();
      }
    } else if (m.time_note.empty()) {
      m.time_note = m.time_units.empty()
                        ? fmt::format("{} has no units: times are kept as raw numbers", m.time_name)
                        : fmt::format("time units '{}' are not CF ('UNIT since DATE'): times are kept as raw numbers",
                                      m.time_units);
    }
  }

  // Data variables and how they sit on the axes.
  for (const VarInfo& v : vars) {
    if (&v == lat || &v == lon || &v == time || v.coordinate() || bounds.count(v.name)) continue;
    if (v.type == NC_CHAR || v.type == NC_STRING) continue;
    VarMeta x;
    x.name = v.name;
    x.type = nc_type_name(v.type);
    x.dims = v.dims;
    x.shape = v.shape;
    x.units = v.units;
    x.long_name = v.long_name;
    x.standard_name = v.standard_name;
    std::vector<std::string> other;
    for (size_t d = 0; d < v.dims.size(); ++d) {
      const std::string& dn = v.dims[d];
      const int di = static_cast<int>(d);
      if (!lat_dim.empty() && dn == lat_dim)
        x.lat_dim = di;
      else if (!lon_dim.empty() && dn == lon_dim)
        x.lon_dim = di;
      else if (!m.time_dim.empty() && dn == m.time_dim)
        x.time_dim = di;
      else if (level_dims.count(dn) && x.level_dim < 0) {
        x.level_dim = di;
        for (const LevelAxis& a : m.levels)
          if (a.dim == dn) x.level_axis = a.name;
      } else if (v.shape[d] != 1)
        other.push_back(fmt::format("{} ({})", dn, v.shape[d]));
    }
    if (!m.grid_error.empty())
      x.why_not = "not on a latitude-longitude grid";
    else if (!numeric_type(v.type))
      x.why_not = "not a numeric variable";
    else if (x.lat_dim < 0 || x.lon_dim < 0)
      x.why_not = "no latitude and longitude dimensions";
    else if (!other.empty())
      x.why_not = fmt::format("extra dimension {}", fmt::join(other, ", "));
    else if (x.lat_dim != static_cast<int>(v.dims.size()) - 2 || x.lon_dim != static_cast<int>(v.dims.size()) - 1)
      x.why_not = fmt::format("dimensions ({}) do not end with ({}, {})", fmt::join(v.dims, ", "), lat_dim, lon_dim);
    else
      x.field = true;
    m.vars.push_back(std::move(x));
  }
  return m;
}

int64_t find_level_index(const LevelAxis& axis, const std::string& spec) {
  if (spec.empty()) return -1;
  if (spec[0] == '#') {
    try {
      size_t used = 0;
      long long k = std::stoll(spec.substr(1), &used);
      if (used + 1 != spec.size() || k < 0 || k >= static_cast<long long>(axis.values.size())) return -1;
      return k;
    } catch (const std::exception&) {
      return -1;
    }
  }
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(spec, &used);
  } catch (const std::exception&) {
    return -1;
  }
  std::string unit = lower(spec.substr(used));
  auto match = [&](double target_in_axis_units) -> int64_t {
    for (size_t k = 0; k < axis.values.size(); ++k)
      if (std::abs(axis.values[k] - target_in_axis_units) <= 1e-6 * std::max(1.0, std::abs(target_in_axis_units)))
        return static_cast<int64_t>(k);
    return -1;
  };
  const double pa = axis.pa_per_unit();
  if (unit.empty()) {
    if (pa > 0) {
      int64_t k = match(value * 100.0 / pa);  // hPa by default
      return k >= 0 ? k : match(value);       // else in the axis's own units
    }
    return match(value);
  }
  LevelAxis probe;
  probe.units = unit;
  const double spec_pa = probe.pa_per_unit();
  if (spec_pa > 0) return pa > 0 ? match(value * spec_pa / pa) : -1;
  if (lower(axis.units) == unit || (unit == "m" && lower(axis.units).rfind("m", 0) == 0)) return match(value);
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Reading

namespace {

thread_local int64_t t_nonfinite = 0;

bool invalid_value(double raw, const Unpacking& u) {
  if (std::isnan(raw) || std::isinf(raw)) {
    t_nonfinite += std::isinf(raw) || !u.nan_fill;
    return true;
  }
  for (double m : u.missing)
    if (raw == m) return true;
  return raw < u.valid_min || raw > u.valid_max;
}

// Marks every invalid value of a float field as NaN and unpacks the rest; returns the count.
int64_t flag_invalid_float(float* x, int64_t n, const Unpacking& u) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float m[4] = {nan, nan, nan, nan};
  for (size_t k = 0; k < std::min<size_t>(4, u.missing.size()); ++k) m[k] = static_cast<float>(u.missing[k]);
  const float lo = static_cast<float>(u.valid_min), hi = static_cast<float>(u.valid_max);
  int64_t bad = 0;
  // One read-only pass decides; almost every field of a model archive has no invalid value at all.
#pragma omp simd reduction(+ : bad)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    bad += static_cast<int64_t>((v != v) | (v == m[0]) | (v == m[1]) | (v == m[2]) | (v == m[3]) | (v < lo) | (v > hi) |
                                (v == INFINITY) | (v == -INFINITY));
  }
  if (bad != 0 || u.missing.size() > 4) {
    bad = 0;
    for (int64_t i = 0; i < n; ++i)
      if (invalid_value(x[i], u) ||
          (!u.missing.empty() && std::any_of(u.missing.begin(), u.missing.end(),
                                             [&](double mv) { return x[i] == static_cast<float>(mv); }))) {
        x[i] = nan;
        ++bad;
      }
  }
  if (u.scale != 1.0 || u.offset != 0.0) {
    const double s = u.scale, o = u.offset;
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] * s + o);  // NaN stays NaN
  }
  return bad;
}

}  // namespace

FieldReader::FieldReader(const std::string& path) {
  h5::LibraryLock lock(h5::library_mutex());
  file_ = NcFile(path);
}

FieldReader::~FieldReader() {
  h5::LibraryLock lock(h5::library_mutex());
  direct_.reset();
  classic_.reset();
  file_ = NcFile();
}

FieldReader::FieldReader(FieldReader&&) noexcept = default;
FieldReader& FieldReader::operator=(FieldReader&&) noexcept = default;

int64_t flag_invalid(float* x, int64_t n, const Unpacking& u) { return flag_invalid_float(x, n, u); }

int64_t count_invalid(const float* x, int64_t n) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += x[i] != x[i];
  return bad;
}

int64_t take_nonfinite() {
  const int64_t n = t_nonfinite;
  t_nonfinite = 0;
  return n;
}

bool FieldReader::plan_direct(const FileMeta& meta, const VarMeta& var, int64_t t, int64_t level, DirectPlan& plan,
                              Unpacking& u) {
  if (meta.deepcam || !var.field || var.type != "float") return false;
  if (var.shape[static_cast<size_t>(var.lat_dim)] != meta.grid.height() ||
      var.shape[static_cast<size_t>(var.lon_dim)] != meta.orientation.file_width(meta.grid.width()))
    return false;
  const bool nc4 = meta.format.rfind("netCDF-4", 0) == 0, nc3 = meta.format.rfind("netCDF-3", 0) == 0;
  if (!nc4 && !nc3) return false;
  if (!direct_tried_) {
    direct_tried_ = true;
    if (nc4)
      direct_ = std::make_unique<Hdf5Direct>(path());
    else
      classic_ = std::make_unique<ClassicDirect>(path());
  }
  const int64_t tt = var.time_dim >= 0 ? t : 0, ll = var.level_dim >= 0 ? level : 0;
  const bool planned =
      nc4 ? direct_->ok() && direct_->plan(var, tt, ll, plan) : classic_->ok() && classic_->plan(var, tt, ll, plan);
  if (!planned) return false;
  u = unpacking(var);
  return true;
}

Unpacking FieldReader::unpacking(const VarMeta& var) { return unpacking_of(file_.id(), var, path()); }

Unpacking unpacking_of(int ncid, const VarMeta& var, const std::string& path) {
  Unpacking u;
  if (var.deepcam_channel >= 0 || var.name == "climate/labels_0") return u;
  h5::LibraryLock lock(h5::library_mutex());
  const int vid = nc_find_var(ncid, var.name);
  if (vid < 0) fail("{}: variable {} not found", path, var.name);
  nc_type t{};
  nc_inq_vartype(ncid, vid, &t);
  u.integer = t != NC_FLOAT && t != NC_DOUBLE;
  u.bits = type_bits(t);
  auto sf = nc_att_numbers(ncid, vid, "scale_factor");
  auto ao = nc_att_numbers(ncid, vid, "add_offset");
  if (!sf.empty()) u.scale = sf[0];
  if (!ao.empty()) u.offset = ao[0];
  u.packed = u.integer || !sf.empty() || !ao.empty();
  u.is_unsigned = (t == NC_BYTE || t == NC_SHORT || t == NC_INT || t == NC_INT64) &&
                  lower(nc_att_text(ncid, vid, "_Unsigned")) == "true";
  if (nc_has_att(ncid, vid, "_FillValue")) {
    for (double f : nc_att_numbers(ncid, vid, "_FillValue")) {
      if (!std::isnan(f)) u.missing.push_back(f);
      u.nan_fill = u.nan_fill || std::isnan(f);
    }
  } else if (!std::isnan(default_fill(t))) {
    u.missing.push_back(default_fill(t));
  }
  for (double f : nc_att_numbers(ncid, vid, "missing_value")) {
    if (!std::isnan(f) && std::find(u.missing.begin(), u.missing.end(), f) == u.missing.end()) u.missing.push_back(f);
    u.nan_fill = u.nan_fill || std::isnan(f);
  }
  auto range = nc_att_numbers(ncid, vid, "valid_range");
  if (range.size() == 2) {
    u.valid_min = range[0];
    u.valid_max = range[1];
  }
  auto vmin = nc_att_numbers(ncid, vid, "valid_min"), vmax = nc_att_numbers(ncid, vid, "valid_max");
  if (!vmin.empty()) u.valid_min = vmin[0];
  if (!vmax.empty()) u.valid_max = vmax[0];
  return u;
}

int64_t read_rows(int ncid, const std::string& path, const VarMeta& var, int64_t t, int64_t level, int64_t row0,
                  int64_t rows, float* dst, std::vector<double>& scratch) {
  const Unpacking u = unpacking_of(ncid, var, path);
  const int64_t W = var.shape[static_cast<size_t>(var.lon_dim)];
  const int64_t n = rows * W;
  std::vector<size_t> start(var.dims.size(), 0), count(var.dims.size(), 1);
  for (size_t d = 0; d < var.dims.size(); ++d) {
    const int di = static_cast<int>(d);
    if (di == var.time_dim) {
      if (t < 0 || t >= var.shape[d]) fail("{}: variable {}: time index {} out of range", path, var.name, t);
      start[d] = static_cast<size_t>(t);
    } else if (di == var.level_dim) {
      if (level < 0 || level >= var.shape[d])
        fail("{}: variable {}: level index {} out of range", path, var.name, level);
      start[d] = static_cast<size_t>(level);
    } else if (di == var.lat_dim) {
      start[d] = static_cast<size_t>(row0);
      count[d] = static_cast<size_t>(rows);
    } else if (di == var.lon_dim) {
      count[d] = static_cast<size_t>(W);
    }
  }
  int64_t bad = 0;
  h5::LibraryLock lock(h5::library_mutex());
  const int vid = nc_find_var(ncid, var.name);
  if (vid < 0) fail("{}: variable {} not found", path, var.name);
  // The note covers the library call alone: a fault in climseg's own code after it is not the file's.
  const std::string reading = "reading " + var.name;
  if (var.type == "float") {
    int rc = 0;
    {
      LibraryCrashNote note(path, reading);
      rc = nc_get_vara_float(ncid, vid, start.data(), count.data(), dst);
    }
    nc_check(rc, path, "cannot read", var.name);
    bad = flag_invalid_float(dst, n, u);
  } else {
    scratch.resize(static_cast<size_t>(n));
    int rc = 0;
    {
      LibraryCrashNote note(path, reading);
      rc = nc_get_vara_double(ncid, vid, start.data(), count.data(), scratch.data());
    }
    nc_check(rc, path, "cannot read", var.name);
    const double wrap = std::ldexp(1.0, u.bits);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int64_t i = 0; i < n; ++i) {
      double r = scratch[static_cast<size_t>(i)];
      bool invalid = invalid_value(r, u);
      if (u.is_unsigned && r < 0) {
        r += wrap;
        invalid = invalid || invalid_value(r, u);
      }
      if (invalid) {
        dst[i] = nan;
        ++bad;
      } else {
        dst[i] = static_cast<float>(r * u.scale + u.offset);
      }
    }
  }
  return bad;
}

int64_t FieldReader::read(const FileMeta& meta, const VarMeta& var, int64_t t, int64_t level, float* out) {
  const int64_t H = meta.grid.height(), W = meta.grid.width(), n = H * W;
  const int64_t Wf = meta.orientation.file_width(W);
  if (!var.field) fail("{}: variable {} cannot be read as a field: {}", path(), var.name, var.why_not);
  const bool identity = meta.orientation.identity();
  float* dst = out;
  if (!identity) {
    scratch_f_.resize(static_cast<size_t>(H * Wf));
    dst = scratch_f_.data();
  }
  int64_t bad = 0;
  if (meta.deepcam) {
    {
      h5::LibraryLock lock(h5::library_mutex());
      int grp = -1;
      nc_check(nc_inq_grp_ncid(file_.id(), "climate", &grp), path(), "group climate");
      if (var.deepcam_channel < 0) {
        int lid = nc_find_var(grp, "labels_0");
        nc_check(nc_get_var_float(grp, lid, dst), path(), "cannot read", "climate/labels_0");
      } else {
        if (deepcam_loaded_ != 0) {
          const size_t C = deepcam_channels().size();
          std::vector<float> raw(static_cast<size_t>(n) * C);
          nc_check(nc_get_var_float(grp, nc_find_var(grp, "data"), raw.data()), path(), "cannot read", "climate/data");
          // Channel-last (H*W, 16) → channel-major (16, H*W) once, in blocks of pixels that stay
          // in cache; a strided pass per channel would stream the whole block 16 times.
          deepcam_block_.resize(static_cast<size_t>(n) * C);
          constexpr int64_t kBlock = 256;
          for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
            const int64_t i1 = std::min(n, i0 + kBlock);
            for (size_t c = 0; c < C; ++c) {
              float* out_c = deepcam_block_.data() + c * static_cast<size_t>(n);
              for (int64_t i = i0; i < i1; ++i) out_c[i] = raw[static_cast<size_t>(i) * C + c];
            }
          }
          deepcam_loaded_ = 0;
        }
      }
    }
    if (var.deepcam_channel >= 0) {
      const size_t k = static_cast<size_t>(var.deepcam_channel);
      std::memcpy(dst, deepcam_block_.data() + k * static_cast<size_t>(n), static_cast<size_t>(n) * sizeof(float));
    }
    bad = flag_invalid_float(dst, n, Unpacking{});
  } else {
    if (var.shape[static_cast<size_t>(var.lat_dim)] != H || var.shape[static_cast<size_t>(var.lon_dim)] != Wf)
      fail("{}: variable {} is {}x{} but the grid is {}x{}", path(), var.name,
           var.shape[static_cast<size_t>(var.lat_dim)], var.shape[static_cast<size_t>(var.lon_dim)], H, Wf);
    bad = read_rows(file_.id(), path(), var, t, level, 0, H, dst, scratch_d_);
  }
  if (!identity) to_canonical(dst, out, H, W, meta.orientation);
  // A repeated meridian is read twice but is one column of the grid: count what the grid holds.
  if (meta.orientation.lon_repeated && bad > 0) bad = count_invalid(out, n);
  return bad;
}

void FieldReader::drop_cache() {
  deepcam_loaded_ = -1;
  std::vector<float>().swap(deepcam_block_);
}

std::vector<double> FieldReader::read_vector(const std::string& name) {
  h5::LibraryLock lock(h5::library_mutex());
  const int vid = nc_find_var(file_.id(), name);
  if (vid < 0) return {};
  nc_type t{};
  nc_inq_vartype(file_.id(), vid, &t);
  if (!numeric_type(t)) return {};
  double count = 1;
  for (size_t s : nc_var_shape(file_.id(), vid)) count *= static_cast<double>(s);
  check_allocation(path(), "variable " + name, count < 9.0e18 ? static_cast<int64_t>(count) : INT64_MAX,
                   sizeof(double));
  const auto n = static_cast<size_t>(count);
  std::vector<double> out(n);
  if (n) nc_check(nc_get_var_double(file_.id(), vid, out.data()), path(), "cannot read", name);
  return out;
}

void finish_mask(float* data, float* valid, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const bool ok = data[i] == data[i];
    valid[i] = ok ? 1.0f : 0.0f;
    if (!ok) data[i] = 0.0f;
  }
}

}  // namespace climseg::io
