// SCRIP grid and weights files, UGRID meshes and CAM-SE column files.
#include "readers/scrip.hpp"

#include <netcdf.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/h5.hpp"
#include "geo/cubed_sphere.hpp"
#include "readers/netcdf_file.hpp"

namespace climseg::io {
namespace {

constexpr double kRadToDeg = 180.0 / geo::kPi;

// A variable's values as doubles (any numeric type), with its shape.
std::vector<double> read_doubles(int nc, const std::string& path, const std::string& name, std::vector<size_t>* shape) {
  const int v = nc_find_var(nc, name);
  if (v < 0) fail("{}: no variable '{}'", path, name);
  const std::vector<size_t> s = nc_var_shape(nc, v);
  size_t n = 1;
  for (size_t d : s) n *= d;
  std::vector<double> out(n);
  if (n > 0) nc_check(nc_get_var_double(nc, v, out.data()), path, "read", name);
  if (shape) *shape = s;
  return out;
}

std::vector<long long> read_ints(int nc, const std::string& path, const std::string& name, std::vector<size_t>* shape) {
  const int v = nc_find_var(nc, name);
  if (v < 0) fail("{}: no variable '{}'", path, name);
  const std::vector<size_t> s = nc_var_shape(nc, v);
  size_t n = 1;
  for (size_t d : s) n *= d;
  std::vector<long long> out(n);
  if (n > 0) nc_check(nc_get_var_longlong(nc, v, out.data()), path, "read", name);
  if (shape) *shape = s;
  return out;
}

// Degrees from a coordinate variable whose units may be radians (SCRIP allows both).
void to_degrees(int nc, const std::string& name, std::vector<double>& v) {
  const int id = nc_find_var(nc, name);
  std::string units = id >= 0 ? nc_att_text(nc, id, "units") : "";
  std::transform(units.begin(), units.end(), units.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (units.starts_with("rad"))
    for (double& x : v) x *= kRadToDeg;
}

bool is_latitude(int nc, int v) {
  const std::string name = nc_var_name(nc, v);
  const std::string units = nc_att_text(nc, v, "units"), sn = nc_att_text(nc, v, "standard_name");
  return name == "lat" || name == "latitude" || sn == "latitude" || units == "degrees_north" || units == "degree_north";
}
bool is_longitude(int nc, int v) {
  const std::string name = nc_var_name(nc, v);
  const std::string units = nc_att_text(nc, v, "units"), sn = nc_att_text(nc, v, "standard_name");
  return name == "lon" || name == "longitude" || sn == "longitude" || units == "degrees_east" || units == "degree_east";
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> w;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n') {
      if (!cur.empty()) w.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) w.push_back(cur);
  return w;
}

std::string describe_columns(int nc, int64_t n) {
  const auto ne = nc_att_numbers(nc, NC_GLOBAL, "ne"), np = nc_att_numbers(nc, NC_GLOBAL, "np");
  if (ne.size() == 1 && np.size() == 1) {
    geo::CubedSphereSpec s;
    s.ne = int(ne[0]);
    s.np = int(np[0]);
    if (s.columns() == n) return "cubed sphere " + s.name();
  }
  for (int k = 1; k <= 1024; ++k)
    if (6LL * k * k * 9 + 2 == n) return fmt::format("cubed sphere ne{}np4 (by its column count)", k);
  return "unstructured columns";
}

void def_var(int nc, const std::string& path, const char* name, nc_type type, std::vector<int> dims, int& id) {
  nc_check(nc_def_var(nc, name, type, int(dims.size()), dims.data(), &id), path, "define", name);
}
void put_text(int nc, int var, const std::string& path, const char* name, const std::string& value) {
  nc_check(nc_put_att_text(nc, var, name, value.size(), value.c_str()), path, "write attribute", name);
}

}  // namespace

std::optional<ColumnLayout> detect_column_layout(const std::filesystem::path& path) {
  h5::LibraryLock lock(h5::library_mutex());
  NcFile f(path);
  const int nc = f.id();
  ColumnLayout l;
  if (nc_find_var(nc, "grid_center_lat") >= 0 && nc_find_var(nc, "grid_center_lon") >= 0 &&
      nc_find_var(nc, "grid_corner_lat") >= 0 && nc_find_var(nc, "grid_corner_lon") >= 0) {
    const int v = nc_find_var(nc, "grid_center_lat");
    const auto dims = nc_var_dims(nc, v);
    if (dims.size() != 1) return std::nullopt;
    const int rank = nc_find_var(nc, "grid_dims");
    if (rank >= 0) {
      const auto s = nc_var_shape(nc, rank);
      if (!s.empty() && s[0] > 1) return std::nullopt;  // a logically rectangular (lat-lon) SCRIP grid
    }
    l.kind = ColumnLayout::Kind::scrip;
    l.dimension = nc_dim_name(nc, dims[0]);
    l.lat_var = "grid_center_lat";
    l.lon_var = "grid_center_lon";
    l.columns = int64_t(nc_dim_len(nc, dims[0]));
    l.description = "SCRIP grid";
    return l;
  }
  int nvars = 0;
  nc_check(nc_inq_nvars(nc, &nvars), f.path(), "list variables");
  for (int v = 0; v < nvars; ++v) {
    if (nc_att_text(nc, v, "cf_role") != "mesh_topology") continue;
    const std::string mesh = nc_var_name(nc, v);
    const std::string conn = nc_att_text(nc, v, "face_node_connectivity");
    const int cv = nc_find_var(nc, conn);
    if (conn.empty() || cv < 0) fail("{}: UGRID mesh '{}' has no face_node_connectivity variable", f.path(), mesh);
    const auto cdims = nc_var_dims(nc, cv);
    if (cdims.size() != 2) fail("{}: {}: face_node_connectivity must have 2 dimensions", f.path(), conn);
    std::string face_dim = nc_att_text(nc, v, "face_dimension");
    if (face_dim.empty()) face_dim = nc_dim_name(nc, cdims[0]);
    l.kind = ColumnLayout::Kind::ugrid;
    l.dimension = face_dim;
    const auto fc = words(nc_att_text(nc, v, "face_coordinates"));
    if (fc.size() == 2) {
      l.lon_var = fc[0];
      l.lat_var = fc[1];
    }
    int did = -1;
    nc_check(nc_inq_dimid(nc, face_dim.c_str(), &did), f.path(), "find dimension", face_dim);
    l.columns = int64_t(nc_dim_len(nc, did));
    l.description = "UGRID mesh '" + mesh + "'";
    return l;
  }
  // Columns: latitude and longitude variables on one and the same dimension.
  for (int a = 0; a < nvars; ++a) {
    const auto da = nc_var_dims(nc, a);
    if (da.size() != 1 || !is_latitude(nc, a)) continue;
    for (int b = 0; b < nvars; ++b) {
      const auto db = nc_var_dims(nc, b);
      if (b == a || db.size() != 1 || db[0] != da[0] || !is_longitude(nc, b)) continue;
      l.kind = ColumnLayout::Kind::ncol;
      l.dimension = nc_dim_name(nc, da[0]);
      l.lat_var = nc_var_name(nc, a);
      l.lon_var = nc_var_name(nc, b);
      l.columns = int64_t(nc_dim_len(nc, da[0]));
      l.description = describe_columns(nc, l.columns);
      return l;
    }
  }
  return std::nullopt;
}

std::pair<std::vector<double>, std::vector<double>> read_column_positions(const std::filesystem::path& path) {
  const std::optional<ColumnLayout> layout = detect_column_layout(path);
  if (!layout || layout->lat_var.empty())
    fail("{}: no column latitudes and longitudes (not a CAM-SE, SCRIP or UGRID file with centres)", path.string());
  h5::LibraryLock lock(h5::library_mutex());
  NcFile f(path);
  std::pair<std::vector<double>, std::vector<double>> out{read_doubles(f.id(), f.path(), layout->lat_var, nullptr),
                                                          read_doubles(f.id(), f.path(), layout->lon_var, nullptr)};
  to_degrees(f.id(), layout->lat_var, out.first);
  to_degrees(f.id(), layout->lon_var, out.second);
  return out;
}

geo::UnstructuredGrid read_unstructured_grid(const std::filesystem::path& path,
                                             const std::filesystem::path& scrip_grid) {
  const auto layout = detect_column_layout(path);
  if (!layout)
    fail("{}: no unstructured grid (neither lat(ncol)/lon(ncol) columns, a SCRIP grid nor a UGRID mesh)",
         path.string());
  std::vector<double> lat, lon, clat, clon;
  int64_t nv = 0;
  std::string description = layout->description;
  {
    h5::LibraryLock lock(h5::library_mutex());
    NcFile f(path);
    const int nc = f.id();
    if (layout->kind == ColumnLayout::Kind::scrip) {
      std::vector<size_t> shape;
      lat = read_doubles(nc, f.path(), "grid_center_lat", nullptr);
      lon = read_doubles(nc, f.path(), "grid_center_lon", nullptr);
      clat = read_doubles(nc, f.path(), "grid_corner_lat", &shape);
      clon = read_doubles(nc, f.path(), "grid_corner_lon", nullptr);
      if (shape.size() != 2 || shape[0] != lat.size())
        fail("{}: grid_corner_lat must be (grid_size, grid_corners)", f.path());
      nv = int64_t(shape[1]);
      to_degrees(nc, "grid_center_lat", lat);
      to_degrees(nc, "grid_center_lon", lon);
      to_degrees(nc, "grid_corner_lat", clat);
      to_degrees(nc, "grid_corner_lon", clon);
    } else if (layout->kind == ColumnLayout::Kind::ugrid) {
      int mesh = -1, nvars = 0;
      nc_check(nc_inq_nvars(nc, &nvars), f.path(), "list variables");
      for (int v = 0; v < nvars && mesh < 0; ++v)
        if (nc_att_text(nc, v, "cf_role") == "mesh_topology") mesh = v;
      const std::string conn = nc_att_text(nc, mesh, "face_node_connectivity");
      const auto nodes = words(nc_att_text(nc, mesh, "node_coordinates"));
      if (nodes.size() != 2) fail("{}: UGRID mesh needs node_coordinates \"X Y\"", f.path());
      std::vector<double> nx = read_doubles(nc, f.path(), nodes[0], nullptr);
      std::vector<double> ny = read_doubles(nc, f.path(), nodes[1], nullptr);
      to_degrees(nc, nodes[0], nx);
      to_degrees(nc, nodes[1], ny);
      std::vector<size_t> shape;
      const std::vector<long long> fn = read_ints(nc, f.path(), conn, &shape);
      const int cv = nc_find_var(nc, conn);
      const auto start = nc_att_numbers(nc, cv, "start_index");
      const long long base = start.empty() ? 0 : (long long)start[0];
      auto fill = nc_att_numbers(nc, cv, "_FillValue");
      const long long fillv = fill.empty() ? -999999999LL : (long long)fill[0];
      const int64_t nf = int64_t(shape[0]);
      nv = int64_t(shape[1]);
      clat.resize(size_t(nf * nv));
      clon.resize(size_t(nf * nv));
      for (int64_t i = 0; i < nf; ++i) {
        int64_t last = -1;
        for (int64_t k = 0; k < nv; ++k) {
          const long long raw = fn[size_t(i * nv + k)];
          int64_t node = (raw == fillv || raw < base) ? last : int64_t(raw - base);
          if (node >= int64_t(nx.size()))
            fail("{}: {}: face {} names node {} of {}", f.path(), conn, i, raw, nx.size());
          if (node < 0) fail("{}: {}: face {} starts with a fill value", f.path(), conn, i);
          last = node;
          clat[size_t(i * nv + k)] = ny[size_t(node)];
          clon[size_t(i * nv + k)] = nx[size_t(node)];
        }
      }
      if (!layout->lat_var.empty()) {
        lat = read_doubles(nc, f.path(), layout->lat_var, nullptr);
        lon = read_doubles(nc, f.path(), layout->lon_var, nullptr);
        to_degrees(nc, layout->lat_var, lat);
        to_degrees(nc, layout->lon_var, lon);
      } else {  // face centres: the normalised mean of each face's corners
        lat.resize(size_t(nf));
        lon.resize(size_t(nf));
        for (int64_t i = 0; i < nf; ++i) {
          geo::Vec3 s{};
          for (int64_t k = 0; k < nv; ++k) s = s + geo::unit_vector(clat[size_t(i * nv + k)], clon[size_t(i * nv + k)]);
          geo::lat_lon_of(s, lat[size_t(i)], lon[size_t(i)]);
        }
      }
    } else {
      lat = read_doubles(nc, f.path(), layout->lat_var, nullptr);
      lon = read_doubles(nc, f.path(), layout->lon_var, nullptr);
    }
  }
  geo::UnstructuredGrid g;
  if (nv == 0 && !scrip_grid.empty()) {
    g = read_unstructured_grid(scrip_grid);
    if (g.size() != int64_t(lat.size()))
      fail("the SCRIP grid {} has {} cells but {} has {} columns", scrip_grid.string(), g.size(), path.string(),
           lat.size());
    for (size_t i = 0; i < lat.size(); ++i)
      if (geo::great_circle_m(lat[i], lon[i], g.lat[i], g.lon[i]) > 1e-6 * geo::kEarthRadius)
        fail("column {} of {} is at ({}, {}) but cell {} of the SCRIP grid {} is centred at ({}, {})", i, path.string(),
             lat[i], lon[i], i, scrip_grid.string(), g.lat[i], g.lon[i]);
    g.description = description;
    return g;
  }
  try {
    g = nv > 0 ? geo::UnstructuredGrid::from_cells(std::move(lat), std::move(lon), nv, clat, clon)
               : geo::UnstructuredGrid::from_nodes(std::move(lat), std::move(lon));
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    fail("{}: {}", path.string(), e.what());
  }
  g.description = description;
  return g;
}

void write_scrip_grid(const std::filesystem::path& path, const geo::RemapGrid& g, const std::string& title) {
  AtomicOutput out(path);
  {
    h5::LibraryLock lock(h5::library_mutex());
    const std::string p = path.string();
    int nc = -1;
    nc_check(nc_create(out.temp_path().c_str(), NC_CLOBBER | NC_NETCDF4 | NC_CLASSIC_MODEL, &nc), p, "create");
    struct Closer {
      int id;
      ~Closer() { nc_close(id); }
    } closer{nc};
    const int64_t n = g.size(), nv = std::max<int64_t>(g.corners, 1);
    int d_size, d_corners, d_rank;
    nc_check(nc_def_dim(nc, "grid_size", size_t(n), &d_size), p, "define dimension", "grid_size");
    nc_check(nc_def_dim(nc, "grid_corners", size_t(nv), &d_corners), p, "define dimension", "grid_corners");
    nc_check(nc_def_dim(nc, "grid_rank", g.dims.size(), &d_rank), p, "define dimension", "grid_rank");
    int v_dims, v_lat, v_lon, v_mask, v_clat = -1, v_clon = -1, v_area;
    def_var(nc, p, "grid_dims", NC_INT, {d_rank}, v_dims);
    def_var(nc, p, "grid_center_lat", NC_DOUBLE, {d_size}, v_lat);
    def_var(nc, p, "grid_center_lon", NC_DOUBLE, {d_size}, v_lon);
    def_var(nc, p, "grid_imask", NC_INT, {d_size}, v_mask);
    if (g.corners > 0) {
      def_var(nc, p, "grid_corner_lat", NC_DOUBLE, {d_size, d_corners}, v_clat);
      def_var(nc, p, "grid_corner_lon", NC_DOUBLE, {d_size, d_corners}, v_clon);
      put_text(nc, v_clat, p, "units", "degrees");
      put_text(nc, v_clon, p, "units", "degrees");
    }
    def_var(nc, p, "grid_area", NC_DOUBLE, {d_size}, v_area);
    put_text(nc, v_lat, p, "units", "degrees");
    put_text(nc, v_lon, p, "units", "degrees");
    put_text(nc, v_area, p, "units", "radians^2");
    put_text(nc, NC_GLOBAL, p, "title", title);
    nc_check(nc_enddef(nc), p, "end definitions");
    std::vector<int> dims(g.dims.begin(), g.dims.end());
    nc_check(nc_put_var_int(nc, v_dims, dims.data()), p, "write", "grid_dims");
    nc_check(nc_put_var_double(nc, v_lat, g.lat.data()), p, "write", "grid_center_lat");
    nc_check(nc_put_var_double(nc, v_lon, g.lon.data()), p, "write", "grid_center_lon");
    std::vector<int> mask(size_t(n), 1);
    nc_check(nc_put_var_int(nc, v_mask, mask.data()), p, "write", "grid_imask");
    if (g.corners > 0) {
      nc_check(nc_put_var_double(nc, v_clat, g.corner_lat.data()), p, "write", "grid_corner_lat");
      nc_check(nc_put_var_double(nc, v_clon, g.corner_lon.data()), p, "write", "grid_corner_lon");
    }
    nc_check(nc_put_var_double(nc, v_area, g.area.data()), p, "write", "grid_area");
  }
  out.commit();
}

void write_scrip_weights(const std::filesystem::path& path, const geo::RemapWeights& w, const std::string& source_name,
                         const std::string& target_name) {
  AtomicOutput out(path);
  {
    h5::LibraryLock lock(h5::library_mutex());
    const std::string p = path.string();
    int nc = -1;
    nc_check(nc_create(out.temp_path().c_str(), NC_CLOBBER | NC_NETCDF4 | NC_CLASSIC_MODEL, &nc), p, "create");
    struct Closer {
      int id;
      ~Closer() { nc_close(id); }
    } closer{nc};
    const bool conservative = w.method == geo::RemapMethod::conservative;
    put_text(nc, NC_GLOBAL, p, "title",
             fmt::format("climseg {} weights {} to {}", geo::remap_method_name(w.method), source_name, target_name));
    put_text(nc, NC_GLOBAL, p, "normalization", conservative ? "fracarea" : "none");
    put_text(nc, NC_GLOBAL, p, "map_method", conservative ? "Conservative remapping" : "Bilinear remapping");
    put_text(nc, NC_GLOBAL, p, "conventions", "SCRIP");
    put_text(nc, NC_GLOBAL, p, "source_grid", source_name);
    put_text(nc, NC_GLOBAL, p, "dest_grid", target_name);
    put_text(nc, NC_GLOBAL, p, "history", "climseg");
    int d_links, d_wgts;
    struct Side {
      const char* prefix;
      const geo::RemapGrid* grid;
      const std::vector<double>* frac;
      int d_size = -1, d_corners = -1, d_rank = -1;
      int v_dims = -1, v_lat = -1, v_lon = -1, v_mask = -1, v_clat = -1, v_clon = -1, v_area = -1, v_frac = -1;
    };
    Side sides[2] = {{"src", &w.source, &w.source_frac}, {"dst", &w.target, &w.target_frac}};
    for (Side& s : sides) {
      const std::string pre = s.prefix;
      auto dim = [&](const std::string& name, size_t len, int& id) {
        nc_check(nc_def_dim(nc, name.c_str(), len, &id), p, "define dimension", name);
      };
      dim(pre + "_grid_size", size_t(s.grid->size()), s.d_size);
      if (s.grid->corners > 0) dim(pre + "_grid_corners", size_t(s.grid->corners), s.d_corners);
      dim(pre + "_grid_rank", s.grid->dims.size(), s.d_rank);
    }
    nc_check(nc_def_dim(nc, "num_links", size_t(w.nnz()), &d_links), p, "define dimension", "num_links");
    nc_check(nc_def_dim(nc, "num_wgts", 1, &d_wgts), p, "define dimension", "num_wgts");
    for (Side& s : sides) {
      const std::string pre = s.prefix;
      auto var = [&](const std::string& name, nc_type t, std::vector<int> dims, int& id, const char* units) {
        def_var(nc, p, name.c_str(), t, std::move(dims), id);
        if (units) put_text(nc, id, p, "units", units);
      };
      var(pre + "_grid_dims", NC_INT, {s.d_rank}, s.v_dims, nullptr);
      var(pre + "_grid_center_lat", NC_DOUBLE, {s.d_size}, s.v_lat, "degrees");
      var(pre + "_grid_center_lon", NC_DOUBLE, {s.d_size}, s.v_lon, "degrees");
      var(pre + "_grid_imask", NC_INT, {s.d_size}, s.v_mask, "unitless");
      if (s.grid->corners > 0) {
        var(pre + "_grid_corner_lat", NC_DOUBLE, {s.d_size, s.d_corners}, s.v_clat, "degrees");
        var(pre + "_grid_corner_lon", NC_DOUBLE, {s.d_size, s.d_corners}, s.v_clon, "degrees");
      }
      var(pre + "_grid_area", NC_DOUBLE, {s.d_size}, s.v_area, "square radians");
      var(pre + "_grid_frac", NC_DOUBLE, {s.d_size}, s.v_frac, "unitless");
    }
    int v_src, v_dst, v_w;
    def_var(nc, p, "src_address", NC_INT, {d_links}, v_src);
    def_var(nc, p, "dst_address", NC_INT, {d_links}, v_dst);
    def_var(nc, p, "remap_matrix", NC_DOUBLE, {d_links, d_wgts}, v_w);
    nc_check(nc_enddef(nc), p, "end definitions");
    for (Side& s : sides) {
      const geo::RemapGrid& g = *s.grid;
      std::vector<int> dims(g.dims.begin(), g.dims.end());
      nc_check(nc_put_var_int(nc, s.v_dims, dims.data()), p, "write", "grid_dims");
      nc_check(nc_put_var_double(nc, s.v_lat, g.lat.data()), p, "write", "grid_center_lat");
      nc_check(nc_put_var_double(nc, s.v_lon, g.lon.data()), p, "write", "grid_center_lon");
      std::vector<int> mask(size_t(g.size()), 1);
      nc_check(nc_put_var_int(nc, s.v_mask, mask.data()), p, "write", "grid_imask");
      if (g.corners > 0) {
        nc_check(nc_put_var_double(nc, s.v_clat, g.corner_lat.data()), p, "write", "grid_corner_lat");
        nc_check(nc_put_var_double(nc, s.v_clon, g.corner_lon.data()), p, "write", "grid_corner_lon");
      }
      std::vector<double> area = g.area;
      area.resize(size_t(g.size()), 0.0);
      nc_check(nc_put_var_double(nc, s.v_area, area.data()), p, "write", "grid_area");
      std::vector<double> frac = *s.frac;
      frac.resize(size_t(g.size()), 1.0);
      nc_check(nc_put_var_double(nc, s.v_frac, frac.data()), p, "write", "grid_frac");
    }
    std::vector<int> src(size_t(w.nnz())), dst(size_t(w.nnz()));
    for (int64_t t = 0; t < w.target_size(); ++t)
      for (int64_t k = w.row_start[size_t(t)]; k < w.row_start[size_t(t) + 1]; ++k) {
        src[size_t(k)] = w.col[size_t(k)] + 1;
        dst[size_t(k)] = int(t + 1);
      }
    if (w.nnz() > 0) {
      nc_check(nc_put_var_int(nc, v_src, src.data()), p, "write", "src_address");
      nc_check(nc_put_var_int(nc, v_dst, dst.data()), p, "write", "dst_address");
      nc_check(nc_put_var_double(nc, v_w, w.weight.data()), p, "write", "remap_matrix");
    }
  }
  out.commit();
}

geo::RemapWeights read_scrip_weights(const std::filesystem::path& path) {
  h5::LibraryLock lock(h5::library_mutex());
  NcFile f(path);
  const int nc = f.id();
  const std::string& p = f.path();
  if (nc_att_text(nc, NC_GLOBAL, "conventions") != "SCRIP")
    fail("{}: not a SCRIP weights file (global attribute conventions = \"SCRIP\" missing)", p);
  geo::RemapWeights w;
  const std::string method = nc_att_text(nc, NC_GLOBAL, "map_method");
  if (method.starts_with("Conservative")) {
    w.method = geo::RemapMethod::conservative;
  } else if (method.starts_with("Bilinear")) {
    w.method = geo::RemapMethod::bilinear;
  } else {
    fail("{}: map_method \"{}\": climseg applies bilinear or conservative weights", p, method);
  }
  for (auto [pre, grid, frac] :
       {std::tuple{"src", &w.source, &w.source_frac}, std::tuple{"dst", &w.target, &w.target_frac}}) {
    const std::string s = pre;
    grid->lat = read_doubles(nc, p, s + "_grid_center_lat", nullptr);
    grid->lon = read_doubles(nc, p, s + "_grid_center_lon", nullptr);
    to_degrees(nc, s + "_grid_center_lat", grid->lat);
    to_degrees(nc, s + "_grid_center_lon", grid->lon);
    std::vector<long long> dims = read_ints(nc, p, s + "_grid_dims", nullptr);
    grid->dims.assign(dims.begin(), dims.end());
    if (nc_find_var(nc, s + "_grid_corner_lat") >= 0) {
      std::vector<size_t> shape;
      grid->corner_lat = read_doubles(nc, p, s + "_grid_corner_lat", &shape);
      grid->corner_lon = read_doubles(nc, p, s + "_grid_corner_lon", nullptr);
      to_degrees(nc, s + "_grid_corner_lat", grid->corner_lat);
      to_degrees(nc, s + "_grid_corner_lon", grid->corner_lon);
      grid->corners = shape.size() == 2 ? int64_t(shape[1]) : 0;
    }
    if (nc_find_var(nc, s + "_grid_area") >= 0) grid->area = read_doubles(nc, p, s + "_grid_area", nullptr);
    if (nc_find_var(nc, s + "_grid_frac") >= 0) *frac = read_doubles(nc, p, s + "_grid_frac", nullptr);
  }
  const std::vector<long long> src = read_ints(nc, p, "src_address", nullptr);
  const std::vector<long long> dst = read_ints(nc, p, "dst_address", nullptr);
  std::vector<size_t> shape;
  const std::vector<double> m = read_doubles(nc, p, "remap_matrix", &shape);
  if (src.size() != dst.size() || shape.empty() || shape[0] != src.size())
    fail("{}: src_address, dst_address and remap_matrix differ in length", p);
  const size_t nw = shape.size() == 2 ? shape[1] : 1;
  const int64_t ns = w.source.size(), nt = w.target.size();
  std::vector<size_t> order(src.size());
  std::iota(order.begin(), order.end(), 0);
  for (size_t k = 0; k < src.size(); ++k) {
    if (src[k] < 1 || src[k] > ns) fail("{}: src_address {} is outside 1..{}", p, src[k], ns);
    if (dst[k] < 1 || dst[k] > nt) fail("{}: dst_address {} is outside 1..{}", p, dst[k], nt);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return dst[a] < dst[b]; });
  w.row_start.assign(size_t(nt) + 1, 0);
  w.col.resize(src.size());
  w.weight.resize(src.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t o = order[k];
    ++w.row_start[size_t(dst[o])];
    w.col[k] = int32_t(src[o] - 1);
    w.weight[k] = m[o * nw];  // first-order weight
  }
  for (int64_t t = 0; t < nt; ++t) w.row_start[size_t(t) + 1] += w.row_start[size_t(t)];
  return w;
}

}  // namespace climseg::io
