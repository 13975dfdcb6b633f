// CF-NetCDF-4 writer: definitions, orientation, type conversion, serial and collective output.
#include "readers/writer.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <netcdf_par.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "core/atomic_file.hpp"
#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/h5.hpp"
#include "core/log.hpp"
#include "core/netcdf.hpp"
#include "readers/netcdf_file.hpp"
#include "readers/run_key.hpp"

namespace climseg::io {

namespace {
std::atomic<bool> g_unclosed_files{false};  // see CfWriter::Impl::abandon
}  // namespace

bool writer_left_files_unclosed() { return g_unclosed_files.load(); }
namespace fs = std::filesystem;

Attr Attr::str(std::string name, std::string text) {
  Attr a;
  a.name = std::move(name);
  a.type = NC_CHAR;
  a.text = std::move(text);
  return a;
}

Attr Attr::num(std::string name, nc_type type, std::vector<double> numbers) {
  Attr a;
  a.name = std::move(name);
  a.type = type;
  a.numbers = std::move(numbers);
  return a;
}

VarDef float_field(std::string name, std::string units, std::string long_name, std::vector<std::string> dims) {
  VarDef v;
  v.name = std::move(name);
  v.type = NC_FLOAT;
  v.dims = std::move(dims);
  v.attrs = {Attr::str("units", std::move(units)), Attr::str("long_name", std::move(long_name))};
  return v;
}

VarDef mask_field(std::string name, const std::vector<std::string>& class_names, std::string long_name,
                  std::vector<std::string> dims) {
  if (class_names.empty() || class_names.size() > 127) fail("mask {}: needs 1 to 127 classes", name);
  VarDef v;
  v.name = std::move(name);
  v.type = NC_BYTE;
  v.dims = std::move(dims);
  std::vector<double> values;
  std::string meanings;
  for (size_t i = 0; i < class_names.size(); ++i) {
    values.push_back(double(i));
    std::string m = class_names[i];
    std::replace(m.begin(), m.end(), ' ', '_');
    meanings += (i ? " " : "") + m;
  }
  if (long_name.empty()) long_name = "class of each cell";
  v.attrs = {Attr::str("long_name", std::move(long_name)), Attr::str("units", "1"),
             Attr::num("flag_values", NC_BYTE, values), Attr::str("flag_meanings", meanings)};
  v.fill_value = -1.0;
  return v;
}

VarDef probability_field(std::string name, std::string long_name, std::vector<std::string> dims) {
  VarDef v;
  v.name = std::move(name);
  v.type = NC_FLOAT;
  v.dims = std::move(dims);
  v.attrs = {Attr::str("long_name", std::move(long_name)), Attr::str("units", "1"),
             Attr::num("valid_range", NC_FLOAT, {0.0, 1.0})};
  v.fill_value = static_cast<double>(NC_FILL_FLOAT);  // cells with a missing input (predict)
  return v;
}

namespace {

struct OutputVar {
  int varid = -1;
  VarDef def;  // dims resolved to the file's names
  bool has_time = false;
  int lat_axis = -1;  // axis index within the var's dims (including time)
  int lon_axis = -1;
  std::vector<size_t> shape;  // full shape in the file (time axis length is filled at write time)
  std::vector<size_t> canon;  // the same as given by callers: W columns where the file may repeat one
};

bool is_integer_type(nc_type t) {
  return t == NC_BYTE || t == NC_UBYTE || t == NC_SHORT || t == NC_INT || t == NC_INT64;
}

// Valid stored range of an integer type.
std::pair<double, double> type_range(nc_type t) {
  switch (t) {
    case NC_BYTE:
      return {-128, 127};
    case NC_UBYTE:
      return {0, 255};
    case NC_SHORT:
      return {-32768, 32767};
    case NC_INT:
      return {-2147483648.0, 2147483647.0};
    default:
      return {-9.2e18, 9.2e18};
  }
}

size_t type_size(nc_type t) {
  switch (t) {
    case NC_BYTE:
    case NC_UBYTE:
      return 1;
    case NC_SHORT:
      return 2;
    case NC_INT:
    case NC_FLOAT:
      return 4;
    default:
      return 8;
  }
}

template <class Out>
void store_as(const double* in, size_t n, void* out) {
  Out* o = static_cast<Out*>(out);
  for (size_t i = 0; i < n; ++i) o[i] = static_cast<Out>(in[i]);
}

}  // namespace

struct CfWriter::Impl {
  fs::path final_path;
  OutputSpec spec;
  std::optional<Comm> comm;  // set when collective
  std::optional<AtomicOutput> atomic;
  std::string temp;  // the path the library writes
  int ncid = -1;
  bool closed = false;
  std::map<std::string, OutputVar> vars;
  std::map<std::string, size_t> dim_len;
  int64_t steps = 0;

  // A writer that did not finish (an exception, a failed write) gives its file back to the library
  // before the AtomicOutput member removes the temporary; a file left open would be closed by
  // HDF5's exit handler (or when MPI finalizes).
  ~Impl() { abandon(); }

  // Closes an unfinished file without keeping it. A file whose writes failed in the library (disk
  // full, quota, file size limit) is not closed: HDF5 1.10 / NetCDF 4.9 segfault closing it (the
  // close flushes again, fails, and NetCDF's report of open objects crashes in H5Iget_name; found
  // with ulimit -f). It is left to the process exit, after the AtomicOutput removed the temporary.
  void abandon() {
    if (closed || ncid < 0) return;
    if (!failed) {
      h5::LibraryLock lock(h5::library_mutex());
      nc_abort(ncid);
    } else {
      g_unclosed_files.store(true);
    }
    ncid = -1;
    closed = true;
  }
  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Messages name the file as the user knows it (an output of an OutputGroup is written at a temporary name).
  std::string where() const { return final_name(final_path).string(); }
  void check(int rc, const std::string& what, const std::string& var = {}) const {
    if (rc != NC_NOERR) failed = true;
    nc_check(rc, where(), what, var);
  }
  mutable bool failed = false;  // a library call failed: the file must not be closed (see abandon)

  void validate() {
    const auto& s = spec;
    const int64_t W = s.grid.width();
    if (s.grid.height() > 0 || W > 0) {
      if (s.grid.height() < 1 || W < 1) fail("{}: output grid {} is empty", where(), s.grid.shape_str());
      if (s.orientation.lon_shift < 0 || s.orientation.lon_shift >= W)
        fail("{}: longitude shift {} is outside 0..{}", where(), s.orientation.lon_shift, W - 1);
    }
    if (!s.file_lat.empty() && int64_t(s.file_lat.size()) != s.grid.height())
      fail("{}: {} file latitudes for a grid of {} rows", where(), s.file_lat.size(), s.grid.height());
    if (!s.file_lon.empty() && int64_t(s.file_lon.size()) != s.orientation.file_width(W))
      fail("{}: {} file longitudes for a grid of {} columns", where(), s.file_lon.size(), s.orientation.file_width(W));
    if (s.deflate_level < 0 || s.deflate_level > 9) fail("{}: deflate level {} is not 0..9", where(), s.deflate_level);
    const bool record = s.time_kind == TimeKind::record;
    if (record && s.time_dim.empty()) fail("{}: the time dimension has no name", where());
    if (s.time_kind == TimeKind::scalar && s.time_name.empty()) fail("{}: the scalar time has no name", where());
    dim_len.clear();
    if (record) dim_len[s.time_dim] = static_cast<size_t>(std::max<int64_t>(0, s.time_steps));
    if (W > 0) {
      if (s.lat_dimension() == s.lon_dimension()) fail("{}: latitude and longitude share a dimension", where());
      dim_len[s.lat_dimension()] = static_cast<size_t>(s.grid.height());
      dim_len[s.lon_dimension()] = static_cast<size_t>(s.orientation.file_width(W));
    }
    for (const auto& [name, len] : s.dims) {
      if (dim_len.count(name)) fail("{}: dimension {} defined twice", where(), name);
      if (len < 1) fail("{}: dimension {} has length {}", where(), name, len);
      dim_len[name] = static_cast<size_t>(len);
    }
    std::map<std::string, int> seen;
    for (VarDef& v : spec.variables) {
      if (v.name.empty()) fail("{}: a variable has no name", where());
      if ((W > 0 && (v.name == s.lat_name || v.name == s.lon_name)) ||
          (s.has_time() && !s.time_name.empty() && v.name == s.time_name))
        fail("{}: variable {} is a coordinate the writer defines itself", where(), v.name);
      if (seen[v.name]++) fail("{}: variable {} defined twice", where(), v.name);
      if (!(v.type == NC_FLOAT || v.type == NC_DOUBLE || is_integer_type(v.type)))
        fail("{}: variable {}: unsupported type {}", where(), v.name, nc_type_name(v.type));
      resolve_dims(v);
      for (size_t k = 0; k < v.dims.size(); ++k) {
        if (!dim_len.count(v.dims[k])) fail("{}: variable {}: unknown dimension {}", where(), v.name, v.dims[k]);
        if (k > 0 && record && v.dims[k] == s.time_dim)
          fail("{}: variable {}: the time dimension must come first", where(), v.name);
      }
      if (v.packed && !is_integer_type(v.type))
        fail("{}: variable {}: only integer variables can be packed", where(), v.name);
      if (v.packed && v.scale_factor == 0.0) fail("{}: variable {}: scale_factor is 0", where(), v.name);
    }
  }

  // The axis placeholders (kTimeAxis, kLatAxis, kLonAxis) replaced by this output's names; the
  // time axis left out when the output has no time dimension.
  void resolve_dims(VarDef& v) const {
    std::vector<std::string> dims;
    for (const std::string& d : v.dims) {
      if (d == kTimeAxis) {
        if (spec.time_kind == TimeKind::record) dims.push_back(spec.time_dim);
      } else if (d == kLatAxis) {
        dims.push_back(spec.lat_dimension());
      } else if (d == kLonAxis) {
        dims.push_back(spec.lon_dimension());
      } else {
        dims.push_back(d);
      }
    }
    v.dims = std::move(dims);
  }

  void put_attr(int varid, const Attr& a, const std::string& var) {
    if (a.type == NC_CHAR || a.type == NC_STRING) {
      check(nc_put_att_text(ncid, varid, a.name.c_str(), a.text.size(), a.text.c_str()),
            "cannot write attribute " + a.name, var);
    } else {
      check(nc_put_att_double(ncid, varid, a.name.c_str(), a.type, a.numbers.size(), a.numbers.data()),
            "cannot write attribute " + a.name, var);
    }
  }

  // Defaults first, then the caller's (same name replaces, new names follow).
  static std::vector<Attr> merged(std::vector<Attr> defaults, const std::vector<Attr>& extra) {
    for (const Attr& e : extra) {
      auto it = std::find_if(defaults.begin(), defaults.end(), [&](const Attr& d) { return d.name == e.name; });
      if (it != defaults.end())
        *it = e;
      else
        defaults.push_back(e);
    }
    return defaults;
  }

  int def_dim(const std::string& name, size_t len, bool unlimited) {
    int id = -1;
    check(nc_def_dim(ncid, name.c_str(), unlimited ? NC_UNLIMITED : len, &id), "cannot define dimension " + name);
    return id;
  }

  void define_var(const VarDef& v, const std::map<std::string, int>& dimids) {
    OutputVar info;
    info.def = v;
    std::vector<int> ids;
    const bool gridded_output = spec.grid.width() > 0;
    for (size_t k = 0; k < v.dims.size(); ++k) {
      ids.push_back(dimids.at(v.dims[k]));
      info.shape.push_back(dim_len.at(v.dims[k]));
      if (gridded_output && v.dims[k] == spec.lat_dimension()) info.lat_axis = int(k);
      if (gridded_output && v.dims[k] == spec.lon_dimension()) info.lon_axis = int(k);
    }
    info.canon = info.shape;
    if (info.lon_axis >= 0) info.canon[size_t(info.lon_axis)] = size_t(spec.grid.width());
    info.has_time = !v.dims.empty() && spec.time_kind == TimeKind::record && v.dims[0] == spec.time_dim;
    check(nc_def_var(ncid, v.name.c_str(), v.type, int(ids.size()), ids.data(), &info.varid), "cannot define", v.name);
    size_t values = 1;
    for (size_t k = info.has_time ? 1 : 0; k < info.shape.size(); ++k) values *= info.shape[k];
    const bool gridded = info.lat_axis >= 0 && info.lon_axis == int(v.dims.size()) - 1;
    if (info.has_time || values >= 4096) {
      // One chunk per time step (and per level): a reader of one step inflates only that step.
      std::vector<size_t> chunk(info.shape.size());
      for (size_t k = 0; k < chunk.size(); ++k) {
        if (info.has_time && k == 0)
          // A fixed-length time axis cannot have chunks longer than itself.
          chunk[k] = gridded ? 1 : (info.shape[k] > 0 ? std::min<size_t>(512, info.shape[k]) : 512);
        else if (gridded && int(k) != info.lat_axis && int(k) != info.lon_axis)
          chunk[k] = 1;
        else
          chunk[k] = info.shape[k];
      }
      check(nc_def_var_chunking(ncid, info.varid, NC_CHUNKED, chunk.data()), "cannot set chunking", v.name);
      if (info.has_time && gridded) {
        // Every chunk of a gridded field is one step (one level), written whole and once: a cache of
        // one chunk is all it needs. netCDF's default (16 MiB per variable) only held finished chunks
        // until close, so a long output's memory grew with its length up to 16 MiB per variable.
        size_t bytes = type_size(v.type);
        for (size_t c : chunk) bytes *= c;
        check(nc_set_var_chunk_cache(ncid, info.varid, bytes, 7, 1.0f), "cannot set the chunk cache", v.name);
      }
      const int level = v.deflate_level >= 0 ? v.deflate_level : spec.deflate_level;
      if (level > 0)
        check(nc_def_var_deflate(ncid, info.varid, spec.shuffle && type_size(v.type) > 1 ? 1 : 0, 1, level),
              "cannot set compression", v.name);
    }
    // Attributes: _FillValue first (ncdump shows it first in CF files), then the caller's, then packing.
    if (v.fill_value) put_attr(info.varid, Attr::num("_FillValue", v.type, {*v.fill_value}), v.name);
    std::vector<Attr> attrs = v.attrs;
    // A scalar time is a coordinate of every gridded variable (CF 5.7), as ERA5 writes it.
    if (spec.time_kind == TimeKind::scalar && info.lat_axis >= 0 && info.lon_axis >= 0) {
      auto c = std::find_if(attrs.begin(), attrs.end(), [](const Attr& a) { return a.name == "coordinates"; });
      if (c == attrs.end())
        attrs.push_back(Attr::str("coordinates", spec.time_name));
      else if (c->text.find(spec.time_name) == std::string::npos)
        c->text += " " + spec.time_name;
    }
    for (const Attr& a : attrs) put_attr(info.varid, a, v.name);
    if (v.packed) {
      put_attr(info.varid, Attr::f32("scale_factor", v.scale_factor), v.name);
      put_attr(info.varid, Attr::f32("add_offset", v.add_offset), v.name);
    }
    vars[v.name] = std::move(info);
  }

  void define() {
    const auto& s = spec;
    std::map<std::string, int> dimids;
    if (s.time_kind == TimeKind::record)
      dimids[s.time_dim] = def_dim(s.time_dim, dim_len[s.time_dim], s.time_steps <= 0);
    if (s.grid.width() > 0) {
      dimids[s.lat_dimension()] = def_dim(s.lat_dimension(), dim_len[s.lat_dimension()], false);
      dimids[s.lon_dimension()] = def_dim(s.lon_dimension(), dim_len[s.lon_dimension()], false);
    }
    for (const auto& [name, len] : s.dims) dimids[name] = def_dim(name, size_t(len), false);

    // Coordinates: time first as CAM writes it, then lat, lon.
    if (s.has_time() && !s.time_name.empty()) {
      VarDef t;
      t.name = s.time_name;
      t.type = s.time_type;
      if (s.time_kind == TimeKind::record) t.dims = {s.time_dim};
      t.attrs = s.time_attrs;
      t.deflate_level = 0;
      define_var(t, dimids);
    }
    if (s.grid.width() > 0) {
      VarDef lat;
      lat.name = s.lat_name;
      lat.type = s.coord_type;
      lat.dims = {s.lat_dimension()};
      lat.attrs = merged({Attr::str("long_name", "latitude"), Attr::str("units", "degrees_north"),
                          Attr::str("standard_name", "latitude"), Attr::str("axis", "Y")},
                         s.lat_attrs);
      lat.deflate_level = 0;
      define_var(lat, dimids);
      VarDef lon = lat;
      lon.name = s.lon_name;
      lon.dims = {s.lon_dimension()};
      lon.attrs = merged({Attr::str("long_name", "longitude"), Attr::str("units", "degrees_east"),
                          Attr::str("standard_name", "longitude"), Attr::str("axis", "X")},
                         s.lon_attrs);
      define_var(lon, dimids);
    }
    for (const VarDef& v : s.variables) define_var(v, dimids);

    // Global attributes: Conventions, the caller's, then provenance.
    std::vector<Attr> globals = merged({Attr::str("Conventions", "CF-1.8")}, s.global_attrs);
    const Provenance& p = s.provenance;
    globals.push_back(Attr::str("history", history_text(p)));
    globals.push_back(Attr::str("climseg_version", build::version()));
    globals.push_back(Attr::str("climseg_git", build::git_hash()));
    if (!p.inputs.empty()) {
      std::string list;
      for (const auto& f : p.inputs) list += (list.empty() ? "" : " ") + f;
      globals.push_back(Attr::str("source_files", list));
    }
    if (!p.checkpoint.empty()) globals.push_back(Attr::str("model_checkpoint", p.checkpoint));
    if (!p.checkpoint_sha256.empty()) globals.push_back(Attr::str("model_checkpoint_sha256", p.checkpoint_sha256));
    if (!p.run_key.empty()) globals.push_back(Attr::str(kRunKeyAttr, p.run_key));
    for (const Attr& a : globals) put_attr(NC_GLOBAL, a, {});

    check(nc_enddef(ncid), "cannot finish the file's definitions");
    if (comm)
      for (auto& [name, info] : vars)
        check(nc_var_par_access(ncid, info.varid, NC_COLLECTIVE), "cannot set collective access", name);
  }

  void open(const fs::path& path, OutputSpec s, const Comm* c) {
    final_path = path;
    spec = std::move(s);
    if (spec.provenance.checkpoint_sha256.empty() && !spec.provenance.checkpoint.empty())
      spec.provenance.checkpoint_sha256 = file_sha256(spec.provenance.checkpoint);
    // The command line is fixed now so that every rank writes the same text.
    if (spec.provenance.command_line.empty()) spec.provenance.command_line = process_command_line();
    validate();
    if (c != nullptr && c->is_mpi() && c->size() > 1) comm = *c;
    if (!comm || comm->is_root()) {
      atomic.emplace(final_path);
      temp = atomic->temp_path().string();
    }
    if (comm) {
      comm->broadcast(temp);
      // A timestamp taken on rank 0 alone, so the history attribute is identical everywhere.
      if (spec.provenance.timestamp) {
        std::string stamp = comm->is_root() ? utc_timestamp() : std::string();
        comm->broadcast(stamp);
        spec.provenance.timestamp = false;
        spec.provenance.command_line = stamp + ": " + spec.provenance.command_line;
      }
    }
    h5::LibraryLock lock(h5::library_mutex());
    const int mode = NC_NETCDF4 | NC_CLOBBER;
    if (comm)
      check(netcdf::create_parallel(temp, mode, *comm, &ncid), "cannot create (parallel)");
    else
      check(nc_create(temp.c_str(), mode, &ncid), "cannot create");
    define();
    // Coordinates: in a collective file rank 0 supplies them and the others join with empty blocks.
    if (spec.grid.width() > 0) {
      write_block(spec.lat_name, 0, 1, spec.grid.lat.data(), spec.grid.lat.size());
      write_block(spec.lon_name, 0, 1, spec.grid.lon.data(), spec.grid.lon.size());
    }
  }

  const OutputVar& info(const std::string& var) const {
    auto it = vars.find(var);
    if (it == vars.end()) fail("{}: no variable {} in the output definition", where(), var);
    return it->second;
  }

  // Reorients values of steps (shape without time) from canonical to file order along the lat/lon
  // axes (a repeated meridian written twice). Coordinates themselves are mapped through
  // file_latitudes/file_longitudes.
  template <class T>
  void reorient(const OutputVar& v, const T* in, T* out, size_t steps_n) const {
    const size_t first = v.has_time ? 1 : 0;
    std::vector<size_t> shape(v.canon.begin() + long(first), v.canon.end());
    std::vector<size_t> fshape(v.shape.begin() + long(first), v.shape.end());
    size_t per_step = 1, fper_step = 1;
    for (size_t n : shape) per_step *= n;
    for (size_t n : fshape) fper_step *= n;
    const auto& o = spec.orientation;
    const int la = v.lat_axis >= 0 ? v.lat_axis - int(first) : -1;
    const int lo = v.lon_axis >= 0 ? v.lon_axis - int(first) : -1;
    const size_t W = size_t(spec.grid.width());
    const size_t shift = size_t(o.lon_shift);
    if ((la < 0 || !o.lat_descending) && (lo < 0 || (shift == 0 && !o.lon_repeated))) {
      std::copy(in, in + per_step * steps_n, out);
      return;
    }
    // Generic N-d mapping: strides of each file axis, then each element's destination.
    const size_t nd = shape.size();
    std::vector<size_t> stride(nd, 1);
    for (size_t k = nd; k-- > 1;) stride[k - 1] = stride[k] * fshape[k];
    std::vector<size_t> idx(nd, 0);
    for (size_t s = 0; s < steps_n; ++s) {
      const T* src = in + s * per_step;
      T* dst = out + s * fper_step;
      std::fill(idx.begin(), idx.end(), 0);
      for (size_t e = 0; e < per_step; ++e) {
        size_t d = 0;
        bool repeat = false;  // this value is also the file's last column
        for (size_t k = 0; k < nd; ++k) {
          size_t i = idx[k];
          if (int(k) == la && o.lat_descending) i = shape[k] - 1 - i;
          if (int(k) == lo) {
            i = (i + shift) % W;
            repeat = o.lon_repeated && i == 0;
          }
          d += i * stride[k];
        }
        dst[d] = src[e];
        if (repeat) dst[d + W * stride[size_t(lo)]] = src[e];
        for (size_t k = nd; k-- > 0;) {
          if (++idx[k] < shape[k]) break;
          idx[k] = 0;
        }
      }
    }
  }

  // Converts physical values (file order) to the variable's stored type into `out`.
  void convert(const OutputVar& v, const double* in, size_t n, std::vector<unsigned char>& out) const {
    const VarDef& d = v.def;
    out.resize(n * type_size(d.type));
    std::vector<double> tmp(in, in + n);
    const bool has_fill = d.fill_value.has_value();
    if (is_integer_type(d.type)) {
      auto [lo, hi] = type_range(d.type);
      for (size_t i = 0; i < n; ++i) {
        double x = tmp[i];
        if (std::isnan(x)) {
          if (!has_fill) fail("{}: variable {}: a NaN value but no _FillValue to store it as", where(), d.name);
          tmp[i] = *d.fill_value;
          continue;
        }
        if (d.packed) x = (x - d.add_offset) / d.scale_factor;
        x = std::nearbyint(x);
        if (x < lo || x > hi)
          fail("{}: variable {}: value {} does not fit type {}", where(), d.name, tmp[i], nc_type_name(d.type));
        tmp[i] = x;
      }
    } else if (has_fill) {
      for (double& x : tmp)
        if (std::isnan(x)) x = *d.fill_value;
    }
    switch (d.type) {
      case NC_BYTE:
        store_as<signed char>(tmp.data(), n, out.data());
        break;
      case NC_UBYTE:
        store_as<unsigned char>(tmp.data(), n, out.data());
        break;
      case NC_SHORT:
        store_as<short>(tmp.data(), n, out.data());
        break;
      case NC_INT:
        store_as<int>(tmp.data(), n, out.data());
        break;
      case NC_INT64:
        store_as<long long>(tmp.data(), n, out.data());
        break;
      case NC_FLOAT:
        store_as<float>(tmp.data(), n, out.data());
        break;
      default:
        store_as<double>(tmp.data(), n, out.data());
        break;
    }
  }

  void put(const OutputVar& v, const std::vector<size_t>& start, const std::vector<size_t>& count,
           const std::vector<unsigned char>& bytes) {
    const int rc = nc_put_vara(ncid, v.varid, start.data(), count.data(), bytes.data());
    check(rc, "cannot write", v.def.name);
  }

  void require_open() const {
    if (closed) fail("{}: the output is already closed", where());
  }

  void note_steps(const OutputVar& v, int64_t t0, int64_t nt) {
    if (v.has_time && nt > 0) steps = std::max(steps, t0 + nt);
  }

  std::vector<size_t> block_start(const OutputVar& v, int64_t t0, int64_t nt) const {
    std::vector<size_t> start(v.shape.size(), 0);
    if (v.has_time && nt > 0) start[0] = size_t(t0);
    return start;
  }
  std::vector<size_t> block_count(const OutputVar& v, int64_t nt) const {
    std::vector<size_t> count = v.shape;
    if (v.has_time) count[0] = size_t(nt);
    return count;
  }

  void check_block(const OutputVar& v, int64_t t0, int64_t nt) const {
    if (nt < 0 || t0 < 0) fail("{}: variable {}: negative time block {}+{}", where(), v.def.name, t0, nt);
    if (!v.has_time && !(t0 == 0 && nt <= 1))
      fail("{}: variable {} has no time dimension: write it as t0 = 0, nt = 1", where(), v.def.name);
    if (v.has_time && spec.time_steps > 0 && t0 + nt > spec.time_steps)
      fail("{}: variable {}: steps {}..{} are beyond the file's {} time steps", where(), v.def.name, t0, t0 + nt - 1,
           spec.time_steps);
  }

  // Values of one step as callers give them (canonical), and as the file holds them.
  size_t per_step(const OutputVar& v) const {
    size_t n = 1;
    for (size_t k = v.has_time ? 1 : 0; k < v.canon.size(); ++k) n *= v.canon[k];
    return n;
  }
  size_t file_per_step(const OutputVar& v) const {
    size_t n = 1;
    for (size_t k = v.has_time ? 1 : 0; k < v.shape.size(); ++k) n *= v.shape[k];
    return n;
  }

  // Writes steps [t0, t0 + nt) of a variable from physical values given canonical along lat/lon.
  // A variable without a time dimension in a collective file: rank 0 writes it, the others take
  // part with an empty block.
  void write_block(const std::string& var, int64_t t0, int64_t nt, const double* values, size_t given) {
    const OutputVar& v = info(var);
    check_block(v, t0, nt);
    if (given != per_step(v) * size_t(nt))
      fail("{}: variable {}: {} values given for {} step(s) of {}", where(), var, given, nt, per_step(v));
    const int64_t n_steps = v.has_time ? nt : (comm && !comm->is_root() ? 0 : nt);
    const size_t n = file_per_step(v) * size_t(n_steps);
    std::vector<double> file(n);
    if (n > 0) {
      if (var == spec.lat_name && spec.grid.width() > 0)
        file = spec.file_lat.empty() ? file_latitudes(spec.grid, spec.orientation) : spec.file_lat;
      else if (var == spec.lon_name && spec.grid.width() > 0)
        file = spec.file_lon.empty() ? file_longitudes(spec.grid, spec.orientation) : spec.file_lon;
      else
        reorient(v, values, file.data(), size_t(n_steps));
    }
    std::vector<unsigned char> bytes;
    convert(v, file.data(), n, bytes);
    std::vector<size_t> start = block_start(v, t0, n_steps), count = block_count(v, n_steps);
    if (n == 0) std::fill(count.begin(), count.end(), 0);
    h5::LibraryLock lock(h5::library_mutex());
    put(v, start, count, bytes);
    note_steps(v, t0, nt);
  }
};

void OutputSpec::set_time(const std::string& units, const std::string& cal, std::vector<Attr> extra) {
  time_kind = TimeKind::record;
  time_dim = time_name = "time";
  time_type = NC_DOUBLE;
  time_attrs = {Attr::str("long_name", "time"), Attr::str("units", units),
                Attr::str("calendar", cal.empty() ? "standard" : cal), Attr::str("standard_name", "time"),
                Attr::str("axis", "T")};
  for (Attr& e : extra) {
    auto it = std::find_if(time_attrs.begin(), time_attrs.end(), [&](const Attr& a) { return a.name == e.name; });
    if (it != time_attrs.end())
      *it = std::move(e);
    else
      time_attrs.push_back(std::move(e));
  }
}

namespace {
std::string text_attr(const std::vector<Attr>& attrs, const char* name) {
  for (const Attr& a : attrs)
    if (a.name == name && a.type == NC_CHAR) return a.text;
  return {};
}

// Warns once per process and reason that outputs keep raw time values.
void warn_raw_time(const std::string& path, const std::string& why) {
  static std::mutex mutex;
  static std::set<std::string> said;
  std::lock_guard<std::mutex> lock(mutex);
  if (!said.insert(why).second) return;
  log::warn("{}: {}: outputs keep its raw time values and units (no dates are made up)", path, why);
}
}  // namespace

std::string OutputSpec::time_units() const { return text_attr(time_attrs, "units"); }
std::string OutputSpec::calendar() const { return text_attr(time_attrs, "calendar"); }

OutputSpec output_like(const FileMeta& in) {
  OutputSpec s;
  s.grid = in.grid;
  s.orientation = in.orientation;
  s.lat_name = in.lat_name.empty() ? "lat" : in.lat_name;
  s.lon_name = in.lon_name.empty() ? "lon" : in.lon_name;
  s.file_lat = in.lat;
  s.file_lon = in.lon;
  // The time axis as the input has it: a record dimension (with its coordinate variable, if it has
  // one), a scalar coordinate, or none.
  if (!in.time_dim.empty()) {
    s.time_kind = TimeKind::record;
    s.time_dim = in.time_dim;
    s.time_name = in.time_name;
  } else if (!in.time_name.empty()) {
    s.time_kind = TimeKind::scalar;
    s.time_name = in.time_name;
  } else {
    s.time_kind = TimeKind::none;
  }
  // Coordinate attributes as the input has them (except storage details and bounds, which we do
  // not write); the input's history stays below ours.
  h5::LibraryLock lock(h5::library_mutex());
  NcFile f(in.path);
  auto copy = [&](const std::string& var, std::vector<Attr>& into, nc_type* type, std::string* dim) {
    int v = nc_find_var(f.id(), var);
    if (v < 0) return;
    if (type != nullptr) {
      nc_type t = NC_NAT;
      if (nc_inq_vartype(f.id(), v, &t) == NC_NOERR &&
          (t == NC_FLOAT || t == NC_DOUBLE || t == NC_BYTE || t == NC_SHORT || t == NC_INT || t == NC_INT64))
        *type = t;
    }
    if (dim != nullptr) {
      const std::vector<int> dims = nc_var_dims(f.id(), v);
      if (dims.size() == 1) *dim = nc_dim_name(f.id(), dims[0]);
    }
    for (const AttValue& a : nc_atts(f.id(), v, in.path)) {
      if (a.name == "_FillValue" || a.name == "missing_value" || a.name == "bounds" || a.name == "climatology" ||
          a.name.rfind("_", 0) == 0)
        continue;
      into.push_back(a.is_text() ? Attr::str(a.name, a.text) : Attr::num(a.name, a.type, a.numbers));
    }
  };
  nc_type lat_type = NC_DOUBLE;
  copy(s.lat_name, s.lat_attrs, &lat_type, &s.lat_dim);
  if (lat_type == NC_FLOAT || lat_type == NC_DOUBLE) s.coord_type = lat_type;
  copy(s.lon_name, s.lon_attrs, nullptr, &s.lon_dim);
  if (s.lat_dim == s.lat_name) s.lat_dim.clear();
  if (s.lon_dim == s.lon_name) s.lon_dim.clear();
  if (s.has_time() && !s.time_name.empty()) {
    copy(s.time_name, s.time_attrs, &s.time_type, nullptr);
    const std::string written = text_attr(s.time_attrs, "units");
    if (in.time_decoded && (written != in.time_units || !cf_time_units_text(in.time_units))) {
      // Readable but not spelled as CF (or derived, as from GEMPAK's reftime): CF units with the
      // same meaning, so the values stay as they are, and a note in history.
      const std::string cf = in.time_axis_units().cf_text();
      std::erase_if(s.time_attrs, [](const Attr& a) { return a.name == "units"; });
      s.time_attrs.insert(s.time_attrs.begin(), Attr::str("units", cf));
      s.provenance.notes.push_back(
          written.empty() ? fmt::format("time units of {} written as CF '{}' ({})", s.time_name, cf, in.time_note)
                          : fmt::format("time units '{}' of {} written as CF '{}'", written, s.time_name, cf));
      if (text_attr(s.time_attrs, "standard_name").empty()) s.time_attrs.push_back(Attr::str("standard_name", "time"));
    } else if (!in.time_decoded) {
      warn_raw_time(in.path,
                    in.time_note.empty() ? fmt::format("time {} cannot be decoded", s.time_name) : in.time_note);
    }
  }
  s.provenance.previous_history = nc_att_text(f.id(), NC_GLOBAL, "history");
  s.provenance.inputs = {in.path};
  return s;
}

CfWriter::CfWriter(const fs::path& path, OutputSpec spec) : impl_(std::make_unique<Impl>()) {
  impl_->open(path, std::move(spec), nullptr);
}

CfWriter::CfWriter(const fs::path& path, OutputSpec spec, const Comm& comm) : impl_(std::make_unique<Impl>()) {
  impl_->open(path, std::move(spec), &comm);
}

CfWriter::~CfWriter() {
  if (!impl_ || impl_->closed) return;
  impl_->abandon();
  // The AtomicOutput (rank 0) removes the temporary file.
}

const OutputSpec& CfWriter::spec() const { return impl_->spec; }
const fs::path& CfWriter::path() const { return impl_->final_path; }
bool CfWriter::collective() const { return impl_->comm.has_value(); }
int64_t CfWriter::steps() const { return impl_->steps; }

int64_t CfWriter::append_time(double value) {
  Impl& m = *impl_;
  if (m.comm) fail("{}: append_time is for serial writers; use write_time with a block", m.where());
  if (m.spec.time_kind == TimeKind::record) {
    const int64_t t = m.steps;
    write_time(t, std::span<const double>(&value, 1));
    return t;
  }
  m.require_open();
  if (m.steps > 0)
    fail("{}: the output has no time dimension (its input has {}): it holds one step", m.where(),
         m.spec.time_kind == TimeKind::scalar ? "a scalar time" : "no time");
  if (m.spec.time_kind == TimeKind::scalar) m.write_block(m.spec.time_name, 0, 1, &value, 1);
  m.steps = 1;
  return 0;
}

void CfWriter::write_time(int64_t t0, std::span<const double> values) {
  Impl& m = *impl_;
  m.require_open();
  if (!m.spec.has_time()) fail("{}: the output has no time axis", m.where());
  if (m.spec.time_kind == TimeKind::scalar && !(t0 == 0 && values.size() <= 1))
    fail("{}: a scalar time holds one value ({} given from step {})", m.where(), values.size(), t0);
  if (m.spec.time_name.empty()) {  // a record dimension without a coordinate variable
    if (!values.empty()) m.steps = std::max(m.steps, t0 + int64_t(values.size()));
    return;
  }
  m.write_block(m.spec.time_name, t0, int64_t(values.size()), values.data(), values.size());
  if (m.spec.time_kind == TimeKind::scalar && !values.empty()) m.steps = 1;
}

void CfWriter::write(const std::string& var, int64_t t0, int64_t nt, const float* data) {
  impl_->require_open();
  const OutputVar& v = impl_->info(var);
  impl_->check_block(v, t0, nt);
  const size_t n = impl_->per_step(v) * size_t(nt);
  std::vector<double> values(data, data + n);
  impl_->write_block(var, t0, nt, values.data(), n);
}

void CfWriter::write_rows(const std::string& var, int64_t t, int64_t row0, int64_t nrows, const float* data) {
  impl_->require_open();
  const OutputVar& v = impl_->info(var);
  const auto& s = impl_->spec;
  const int64_t H = s.grid.height(), W = s.grid.width();
  if (!(v.has_time && v.shape.size() == 3 && v.lat_axis == 1 && v.lon_axis == 2))
    fail("{}: variable {}: write_rows needs a (time, lat, lon) variable", impl_->where(), var);
  if (t < 0 || row0 < 0 || nrows < 0 || row0 + nrows > H)
    fail("{}: variable {}: rows {}..{} of step {} are outside the grid of {} rows", impl_->where(), var, row0,
         row0 + nrows - 1, t, H);
  const int64_t Wf = s.orientation.file_width(W);
  std::vector<float> file(size_t(nrows * Wf));
  // Reorient the band as if it were a whole field of nrows rows; a descending file takes it at
  // the mirrored row range.
  to_file_order(data, file.data(), nrows, W, s.orientation);
  const int64_t file_row0 = s.orientation.lat_descending ? H - row0 - nrows : row0;
  std::vector<double> d(file.begin(), file.end());
  std::vector<unsigned char> bytes;
  impl_->convert(v, d.data(), d.size(), bytes);
  std::vector<size_t> start = {size_t(nrows > 0 ? t : 0), size_t(nrows > 0 ? file_row0 : 0), 0};
  std::vector<size_t> count = {size_t(nrows > 0 ? 1 : 0), size_t(nrows), size_t(nrows > 0 ? Wf : 0)};
  h5::LibraryLock lock(h5::library_mutex());
  impl_->put(v, start, count, bytes);
  if (nrows > 0) impl_->note_steps(v, t, 1);
}

void CfWriter::write_values(const std::string& var, int64_t t0, int64_t nt, std::span<const double> values) {
  impl_->require_open();
  impl_->write_block(var, t0, nt, values.data(), values.size());
}

void CfWriter::set_global_attr(const std::string& name, const std::string& text) {
  Impl& m = *impl_;
  if (m.closed) fail("{}: attribute {} set after close", m.where(), name);
  h5::LibraryLock lock(h5::library_mutex());
  m.check(nc_redef(m.ncid), "cannot reopen the header");
  m.check(nc_put_att_text(m.ncid, NC_GLOBAL, name.c_str(), text.size(), text.c_str()), "attribute " + name);
  m.check(nc_enddef(m.ncid), "cannot close the header");
}

void CfWriter::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  {
    h5::LibraryLock lock(h5::library_mutex());
    // Flush first: if that fails (disk full) the file is abandoned rather than closed (see abandon).
    if (const int rc = nc_sync(m.ncid); rc != NC_NOERR) {
      m.failed = true;
      m.abandon();
      m.check(rc, "cannot write the file (disk full?)");
    }
    const int rc = nc_close(m.ncid);
    m.ncid = -1;
    m.closed = true;
    m.check(rc, "cannot close (data may not have been written)");
  }
  if (m.atomic) m.atomic->commit();
  if (m.comm) m.comm->barrier();  // every rank returns once the file is in place
}

}  // namespace climseg::io
