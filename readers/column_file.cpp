// CF column files: writer and step reader.
#include "readers/column_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "core/h5.hpp"
#include "geo/grid.hpp"
#include "readers/archive.hpp"
#include "readers/calendar.hpp"
#include "readers/netcdf_file.hpp"

namespace climseg::io {
namespace {

void put_attr(int nc, int var, const std::string& path, const Attr& a) {
  if (a.type == NC_CHAR) {
    nc_check(nc_put_att_text(nc, var, a.name.c_str(), a.text.size(), a.text.c_str()), path, "write attribute", a.name);
  } else {
    nc_check(nc_put_att_double(nc, var, a.name.c_str(), a.type, a.numbers.size(), a.numbers.data()), path,
             "write attribute", a.name);
  }
}

}  // namespace

ColumnFileSpec column_spec(const geo::UnstructuredGrid& g) {
  ColumnFileSpec s;
  s.lat = g.lat;
  s.lon = g.lon;
  s.area.resize(size_t(g.size()));
  for (int64_t i = 0; i < g.size(); ++i)
    s.area[size_t(i)] = g.area_m2[size_t(i)] / (geo::kEarthRadius * geo::kEarthRadius);
  return s;
}

ColumnWriter::ColumnWriter(const std::filesystem::path& path, ColumnFileSpec spec)
    : path_(path), spec_(std::move(spec)), out_(std::make_unique<AtomicOutput>(path)) {
  h5::LibraryLock lock(h5::library_mutex());
  const std::string p = path.string();
  nc_check(nc_create(out_->temp_path().c_str(), NC_CLOBBER | NC_NETCDF4 | NC_CLASSIC_MODEL, &nc_), p, "create");
  const size_t n = spec_.lat.size();
  int d_col, d_time = -1;
  nc_check(nc_def_dim(nc_, spec_.column_dim.c_str(), n, &d_col), p, "define dimension", spec_.column_dim);
  const bool timed = !spec_.time_units.empty();
  if (timed) {
    nc_check(nc_def_dim(nc_, "time", NC_UNLIMITED, &d_time), p, "define dimension", "time");
    nc_check(nc_def_var(nc_, "time", NC_DOUBLE, 1, &d_time, &time_var_), p, "define", "time");
    put_attr(nc_, time_var_, p, Attr::str("long_name", "time"));
    put_attr(nc_, time_var_, p, Attr::str("units", spec_.time_units));
    if (!spec_.calendar.empty()) put_attr(nc_, time_var_, p, Attr::str("calendar", spec_.calendar));
  }
  int v;
  nc_check(nc_def_var(nc_, "lat", NC_DOUBLE, 1, &d_col, &v), p, "define", "lat");
  put_attr(nc_, v, p, Attr::str("long_name", "latitude"));
  put_attr(nc_, v, p, Attr::str("units", "degrees_north"));
  const int v_lat = v;
  nc_check(nc_def_var(nc_, "lon", NC_DOUBLE, 1, &d_col, &v), p, "define", "lon");
  put_attr(nc_, v, p, Attr::str("long_name", "longitude"));
  put_attr(nc_, v, p, Attr::str("units", "degrees_east"));
  const int v_lon = v;
  int v_area = -1;
  if (!spec_.area.empty()) {
    nc_check(nc_def_var(nc_, "area", NC_DOUBLE, 1, &d_col, &v_area), p, "define", "area");
    put_attr(nc_, v_area, p, Attr::str("long_name", "area of the column's cell on the unit sphere"));
    put_attr(nc_, v_area, p, Attr::str("units", "steradian"));
  }
  for (const ColumnVar& cv : spec_.variables) {
    if (cv.has_time && !timed) fail("{}: {} needs a time axis", p, cv.name);
    int dims[2] = {d_time, d_col};
    const int nd = cv.has_time ? 2 : 1;
    nc_check(nc_def_var(nc_, cv.name.c_str(), cv.type, nd, cv.has_time ? dims : dims + 1, &v), p, "define", cv.name);
    if (cv.has_time) {
      size_t chunk[2] = {1, n};
      nc_check(nc_def_var_chunking(nc_, v, NC_CHUNKED, chunk), p, "chunk", cv.name);
    }
    if (spec_.deflate_level > 0) nc_check(nc_def_var_deflate(nc_, v, 1, 1, spec_.deflate_level), p, "deflate", cv.name);
    if (cv.fill_value) put_attr(nc_, v, p, Attr::num("_FillValue", cv.type, {*cv.fill_value}));
    for (const Attr& a : cv.attrs) put_attr(nc_, v, p, a);
    ids_.push_back(v);
  }
  put_attr(nc_, NC_GLOBAL, p, Attr::str("Conventions", "CF-1.8"));
  for (const Attr& a : spec_.global_attrs) put_attr(nc_, NC_GLOBAL, p, a);
  nc_check(nc_enddef(nc_), p, "end definitions");
  nc_check(nc_put_var_double(nc_, v_lat, spec_.lat.data()), p, "write", "lat");
  nc_check(nc_put_var_double(nc_, v_lon, spec_.lon.data()), p, "write", "lon");
  if (v_area >= 0) nc_check(nc_put_var_double(nc_, v_area, spec_.area.data()), p, "write", "area");
}

ColumnWriter::~ColumnWriter() {
  if (nc_ >= 0) {
    h5::LibraryLock lock(h5::library_mutex());
    nc_close(nc_);  // uncommitted: AtomicOutput removes the temporary file
  }
}

int ColumnWriter::var_id(const std::string& name) const {
  for (size_t k = 0; k < spec_.variables.size(); ++k)
    if (spec_.variables[k].name == name) return int(k);
  fail("{}: no variable {} in this output", path_.string(), name);
}

void ColumnWriter::write_time(int64_t t, double value) {
  h5::LibraryLock lock(h5::library_mutex());
  const size_t start = size_t(t), count = 1;
  nc_check(nc_put_vara_double(nc_, time_var_, &start, &count, &value), path_.string(), "write", "time");
}

void ColumnWriter::write(const std::string& name, int64_t t, std::span<const float> values) {
  const int k = var_id(name);
  const ColumnVar& cv = spec_.variables[size_t(k)];
  const size_t n = spec_.lat.size();
  if (values.size() != n) fail("{}: {} needs {} values, got {}", path_.string(), name, n, values.size());
  std::vector<float> data(values.begin(), values.end());
  if (cv.fill_value)
    for (float& x : data)
      if (std::isnan(x)) x = float(*cv.fill_value);
  h5::LibraryLock lock(h5::library_mutex());
  size_t start[2] = {size_t(t), 0}, count[2] = {1, n};
  nc_check(cv.has_time ? nc_put_vara_float(nc_, ids_[size_t(k)], start, count, data.data())
                       : nc_put_var_float(nc_, ids_[size_t(k)], data.data()),
           path_.string(), "write", name);
}

void ColumnWriter::close() {
  {
    h5::LibraryLock lock(h5::library_mutex());
    nc_check(nc_close(nc_), path_.string(), "close");
    nc_ = -1;
  }
  out_->commit();
}

std::vector<float> read_column_step(const std::filesystem::path& path, const std::string& name,
                                    const std::string& column_dim, int64_t step) {
  h5::LibraryLock lock(h5::library_mutex());
  NcFile f(path);
  const int nc = f.id();
  const int v = nc_find_var(nc, name);
  if (v < 0) fail("{}: no variable '{}'", f.path(), name);
  const std::vector<int> dims = nc_var_dims(nc, v);
  const std::vector<size_t> shape = nc_var_shape(nc, v);
  if (dims.empty() || nc_dim_name(nc, dims.back()) != column_dim || dims.size() > 2)
    fail("{}: {} is not a field over the columns ({}, or (time, {}))", f.path(), name, column_dim, column_dim);
  const size_t n = shape.back();
  std::vector<float> out(n);
  if (dims.size() == 2) {
    if (step < 0 || size_t(step) >= shape[0])
      fail("{}: {} has {} steps, step {} asked", f.path(), name, shape[0], step);
    size_t start[2] = {size_t(step), 0}, count[2] = {1, n};
    nc_check(nc_get_vara_float(nc, v, start, count, out.data()), f.path(), "read", name);
  } else {
    nc_check(nc_get_var_float(nc, v, out.data()), f.path(), "read", name);
  }
  const auto fill = nc_att_numbers(nc, v, "_FillValue"), missing = nc_att_numbers(nc, v, "missing_value");
  const auto scale = nc_att_numbers(nc, v, "scale_factor"), offset = nc_att_numbers(nc, v, "add_offset");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float& x : out) {
    if ((!fill.empty() && x == float(fill[0])) || (!missing.empty() && x == float(missing[0]))) {
      x = nan;
      continue;
    }
    if (!scale.empty() || !offset.empty())
      x = float(double(x) * (scale.empty() ? 1.0 : scale[0]) + (offset.empty() ? 0.0 : offset[0]));
  }
  return out;
}

int64_t column_steps(const std::filesystem::path& path, const std::string& name, const std::string& column_dim) {
  h5::LibraryLock lock(h5::library_mutex());
  NcFile f(path);
  const int v = nc_find_var(f.id(), name);
  if (v < 0) fail("{}: no variable '{}'", f.path(), name);
  const std::vector<int> dims = nc_var_dims(f.id(), v);
  if (dims.empty() || nc_dim_name(f.id(), dims.back()) != column_dim)
    fail("{}: {} is not a field over the columns {}", f.path(), name, column_dim);
  return dims.size() == 2 ? int64_t(nc_var_shape(f.id(), v)[0]) : 1;
}

namespace {

bool is_coordinate(const std::string& name) {
  static const char* names[] = {
      "lat",  "lon",     "latitude",        "longitude",       "area",       "time",     "time_bnds",
      "date", "datesec", "grid_center_lat", "grid_center_lon", "grid_imask", "grid_area"};
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

struct FileColumns {
  std::vector<std::string> fields;  // over the column dimension, numeric
  std::vector<std::string> units;
  int64_t steps = 1;
  std::vector<double> times;
  std::string time_units, calendar;
};

FileColumns scan_columns(const std::string& path, const ColumnLayout& l) {
  h5::LibraryLock lock(h5::library_mutex());
  NcFile f(path);
  const int nc = f.id();
  FileColumns fc;
  int nvars = 0;
  nc_check(nc_inq_nvars(nc, &nvars), path, "list variables");
  std::string time_dim;
  for (int v = 0; v < nvars; ++v) {
    const std::string name = nc_var_name(nc, v);
    const auto dims = nc_var_dims(nc, v);
    nc_type type;
    nc_check(nc_inq_vartype(nc, v, &type), path, "type of", name);
    if (dims.empty() || dims.size() > 2 || nc_dim_name(nc, dims.back()) != l.dimension) continue;
    if (type == NC_CHAR || type == NC_STRING || is_coordinate(name) || name == l.lat_var || name == l.lon_var) continue;
    if (dims.size() == 2) {
      const std::string td = nc_dim_name(nc, dims[0]);
      if (!time_dim.empty() && td != time_dim) continue;  // one time axis
      time_dim = td;
    }
    fc.fields.push_back(name);
    fc.units.push_back(nc_att_text(nc, v, "units"));
  }
  if (!time_dim.empty()) {
    int d = -1;
    nc_check(nc_inq_dimid(nc, time_dim.c_str(), &d), path, "find dimension", time_dim);
    fc.steps = int64_t(nc_dim_len(nc, d));
    const int tv = nc_find_var(nc, time_dim);
    fc.times.assign(size_t(fc.steps), 0.0);
    if (tv >= 0 && fc.steps > 0) {
      nc_check(nc_get_var_double(nc, tv, fc.times.data()), path, "read", time_dim);
      fc.time_units = nc_att_text(nc, tv, "units");
      fc.calendar = nc_att_text(nc, tv, "calendar");
    }
  }
  return fc;
}

}  // namespace

bool ColumnArchive::is_columns(const std::vector<std::string>& inputs) {
  const std::vector<std::string> files = expand_inputs(inputs);
  return !files.empty() && detect_column_layout(files.front()).has_value();
}

ColumnArchive ColumnArchive::open(const std::vector<std::string>& inputs, const std::vector<std::string>& vars) {
  ColumnArchive a;
  a.files_ = expand_inputs(inputs);
  if (a.files_.empty()) fail("no input files");
  for (size_t k = 0; k < a.files_.size(); ++k) {
    const std::string& path = a.files_[k];
    const auto l = detect_column_layout(path);
    if (!l) fail("{}: not a file of unstructured columns (the first input, {}, is)", path, a.files_.front());
    if (k == 0) {
      a.layout_ = *l;
      h5::LibraryLock lock(h5::library_mutex());
      NcFile f(path);
      const int v = nc_find_var(f.id(), l->lat_var);
      a.lat_.resize(size_t(l->columns));
      if (v >= 0) nc_check(nc_get_var_double(f.id(), v, a.lat_.data()), path, "read", l->lat_var);
    } else if (l->columns != a.layout_.columns || l->dimension != a.layout_.dimension) {
      fail("{}: {} columns over {}, but {} has {} over {}", path, l->columns, l->dimension, a.files_.front(),
           a.layout_.columns, a.layout_.dimension);
    }
    const FileColumns fc = scan_columns(path, *l);
    if (k == 0) {
      if (vars.empty()) {
        a.names_ = fc.fields;
        a.units_ = fc.units;
      } else {
        for (const std::string& name : vars) {
          const auto it = std::find(fc.fields.begin(), fc.fields.end(), name);
          if (it == fc.fields.end())
            fail("{}: no field '{}' over the columns (fields: {})", path, name, fmt::join(fc.fields, ", "));
          a.names_.push_back(name);
          a.units_.push_back(fc.units[size_t(it - fc.fields.begin())]);
        }
      }
      if (a.names_.empty()) fail("{}: no field over the columns ({})", path, l->dimension);
      a.time_units_ = fc.time_units;
      a.calendar_ = fc.calendar;
    } else {
      for (const std::string& name : a.names_)
        if (std::find(fc.fields.begin(), fc.fields.end(), name) == fc.fields.end())
          fail("{}: no field '{}' over the columns (the first file has it)", path, name);
    }
    for (int64_t t = 0; t < fc.steps; ++t) a.steps_.push_back({path, t, fc.times.empty() ? 0.0 : fc.times[size_t(t)]});
  }
  return a;
}

double ColumnArchive::days(int64_t index) const {
  const Step& s = steps_.at(size_t(index));
  if (time_units_.empty()) return double(index);
  try {
    return s.time_value * TimeUnits::parse(time_units_, calendar_.empty() ? "standard" : calendar_).seconds_per_unit() /
           86400.0;
  } catch (const Error&) {
    return double(index);
  }
}

std::string ColumnArchive::iso(int64_t index) const {
  const Step& s = steps_.at(size_t(index));
  if (time_units_.empty()) return {};
  try {
    return TimeUnits::parse(time_units_, calendar_.empty() ? "standard" : calendar_).decode(s.time_value).iso();
  } catch (const Error&) {
    return {};
  }
}

std::vector<float> ColumnArchive::read(const std::string& name, int64_t index) const {
  const Step& s = steps_.at(size_t(index));
  return read_column_step(s.file, name, layout_.dimension, s.time_index);
}

Sample ColumnArchive::sample(int64_t index) const {
  const int64_t C = int64_t(names_.size()), N = layout_.columns;
  Sample s;
  s.grid.lat = lat_;
  s.grid.lon = {0.0};
  s.file = steps_.at(size_t(index)).file;
  s.index = index;
  s.time_index = steps_[size_t(index)].time_index;
  s.time_value = steps_[size_t(index)].time_value;
  s.time_units = time_units_;
  s.calendar = calendar_.empty() ? "standard" : calendar_;
  if (!time_units_.empty()) {
    try {
      const TimeUnits axis = TimeUnits::parse(time_units_, s.calendar);
      s.date = axis.decode(s.time_value);
      s.has_date = true;
      s.time_iso = s.date.iso();
    } catch (const Error&) {
      // Undecodable units: the step keeps its raw value only.
    }
  }
  s.channels = names_;
  s.units = units_;
  s.data = Tensor::empty({C, N, 1});
  s.valid = Tensor::empty({C, N, 1});
  bool any_missing = false;
  for (int64_t c = 0; c < C; ++c) {
    const std::vector<float> v = read(names_[size_t(c)], index);
    for (int64_t i = 0; i < N; ++i) {
      const bool ok = std::isfinite(v[size_t(i)]);
      s.data[c * N + i] = ok ? v[size_t(i)] : 0.0f;
      s.valid[c * N + i] = ok ? 1.0f : 0.0f;
      any_missing = any_missing || !ok;
    }
  }
  if (!any_missing) s.valid = Tensor();
  return s;
}

ChannelStats column_statistics(const ColumnArchive& a, const std::vector<double>& pct,
                               const std::vector<double>& weights, const Comm& comm) {
  const int64_t n = a.size();
  const int64_t b0 = n * comm.rank() / comm.size(), b1 = n * (comm.rank() + 1) / comm.size();
  StatsAccumulator acc(a.channel_names(), a.channel_units(), weights);
  for (int64_t i = b0; i < b1; ++i) acc.add(a.sample(i));
  acc.allreduce(comm);
  ChannelStats stats = acc.result();
  for (const ChannelStat& c : stats.channels)
    if (c.count == 0) fail("channel {} has no valid value in the whole archive", c.name);
  if (!pct.empty()) {
    PercentileAccumulator pc(acc.moments(), weights);
    for (int64_t i = b0; i < b1; ++i) pc.add(a.sample(i));
    pc.allreduce(comm);
    for (size_t c = 0; c < stats.channels.size(); ++c) {
      const auto v = pc.values(int64_t(c), pct);
      for (size_t k = 0; k < pct.size(); ++k) stats.channels[c].percentiles.emplace_back(pct[k], v[k]);
    }
  }
  return stats;
}

nlohmann::json describe_columns(const std::filesystem::path& path) {
  const auto l = detect_column_layout(path);
  if (!l) fail("{}: not a file of unstructured columns", path.string());
  nlohmann::ordered_json j;
  const char* kinds[] = {"ncol", "scrip", "ugrid"};
  nlohmann::ordered_json g;
  g["layout"] = kinds[int(l->kind)];
  g["description"] = l->description;
  g["dimension"] = l->dimension;
  g["columns"] = l->columns;
  g["lat"] = l->lat_var;
  g["lon"] = l->lon_var;
  try {
    const geo::UnstructuredGrid grid = read_unstructured_grid(path);
    const char* cells[] = {"none", "given", "voronoi"};
    g["global"] = grid.global();
    g["cells"] = cells[int(grid.cells)];
    size_t lo = SIZE_MAX, hi = 0;
    for (int64_t i = 0; i < grid.size(); ++i) {
      lo = std::min(lo, grid.neighbours_of(i).size());
      hi = std::max(hi, grid.neighbours_of(i).size());
    }
    g["neighbours"] = {{"min", lo}, {"max", hi}, {"mean", double(grid.neighbours.size()) / double(grid.size())}};
    g["spacing_deg"] = grid.mean_spacing_deg();
    g["area_m2"] = grid.total_area_m2();
    g["area_of_sphere"] = grid.total_area_m2() / (4 * geo::kPi * geo::kEarthRadius * geo::kEarthRadius);
    g["triangles"] = grid.triangulation.triangles.size();
  } catch (const Error& e) {
    g["error"] = e.what();
  }
  j["grid"] = g;
  const FileColumns fc = scan_columns(path.string(), *l);
  if (fc.time_units.empty() && fc.steps == 1 && fc.times.empty()) {
    j["time"] = "none";
  } else {
    j["time"] = {{"steps", fc.steps}, {"units", fc.time_units}, {"calendar", fc.calendar}};
  }
  j["channels"] = fc.fields;
  return nlohmann::json(j);
}

std::string format_columns(const nlohmann::json& s) {
  std::string out = "semantic:\n";
  const auto& g = s["grid"];
  out += fmt::format("  grid: unstructured, {}: {} columns over {} ({}, {})\n", g["description"].get<std::string>(),
                     g["columns"].get<int64_t>(), g["dimension"].get<std::string>(), g["lat"].get<std::string>(),
                     g["lon"].get<std::string>());
  if (g.contains("error")) {
    out += fmt::format("  grid: not usable: {}\n", g["error"].get<std::string>());
  } else {
    out += fmt::format(
        "  cells: {}{}; neighbours {}..{} (mean {:.2f}); spacing {:.3g}°; total area {:.12g} x 4πR²; {} triangles\n",
        g["cells"].get<std::string>() == "voronoi" ? "Voronoi cells of the columns" : g["cells"].get<std::string>(),
        g["global"].get<bool>() ? ", global" : ", regional", g["neighbours"]["min"].get<int64_t>(),
        g["neighbours"]["max"].get<int64_t>(), g["neighbours"]["mean"].get<double>(), g["spacing_deg"].get<double>(),
        g["area_of_sphere"].get<double>(), g["triangles"].get<int64_t>());
  }
  if (s["time"].is_string()) {
    out += "  time: none (one sample)\n";
  } else {
    out += fmt::format("  time: {} step(s), \"{}\", calendar {}\n", s["time"]["steps"].get<int64_t>(),
                       s["time"]["units"].get<std::string>(), s["time"]["calendar"].get<std::string>());
  }
  std::vector<std::string> ch = s["channels"].get<std::vector<std::string>>();
  out += fmt::format("  channels: {}\n", ch.empty() ? "none" : fmt::format("{}", fmt::join(ch, ", ")));
  return out;
}

}  // namespace climseg::io
