// Sparse remapping weights between unstructured column grids and lat-lon grids.
#include "geo/remap.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/error.hpp"
#include "core/mpi.hpp"
#include "geo/polygon.hpp"

namespace climseg::geo {
namespace {

double wrap360(double l) {
  double x = std::fmod(l, 360.0);
  if (x < 0) x += 360.0;
  return x >= 360.0 ? x - 360.0 : x;
}
double wrap180(double d) { return wrap360(d + 180.0) - 180.0; }

void check_latlon(const Grid& g, const char* what) {
  if (g.height() < 2 || g.width() < 2)
    fail("remap: the {} lat-lon grid {} needs at least 2x2 points", what, g.shape_str());
}

// Cell bounds and corner vectors of a lat-lon grid; corners of a periodic grid's last column are the
// first column's vectors, and pole corners are the pole exactly, so neighbouring cells share edges bit
// for bit.
struct LatLonCells {
  explicit LatLonCells(const Grid& grid) : g(grid) {
    const int64_t H = g.height(), W = g.width();
    blat.resize(size_t(H) + 1);
    for (int64_t i = 1; i < H; ++i) blat[size_t(i)] = 0.5 * (g.lat[size_t(i - 1)] + g.lat[size_t(i)]);
    blat[0] = std::max(-90.0, g.lat[0] - 0.5 * (g.lat[1] - g.lat[0]));
    blat[size_t(H)] = std::min(90.0, g.lat[size_t(H - 1)] + 0.5 * (g.lat[size_t(H - 1)] - g.lat[size_t(H - 2)]));
    blon.resize(size_t(W) + 1);
    for (int64_t j = 1; j < W; ++j) blon[size_t(j)] = 0.5 * (g.lon[size_t(j - 1)] + g.lon[size_t(j)]);
    if (g.periodic) {
      blon[0] = 0.5 * (g.lon[size_t(W - 1)] - 360.0 + g.lon[0]);
      blon[size_t(W)] = blon[0] + 360.0;
    } else {
      blon[0] = g.lon[0] - 0.5 * (g.lon[1] - g.lon[0]);
      blon[size_t(W)] = g.lon[size_t(W - 1)] + 0.5 * (g.lon[size_t(W - 1)] - g.lon[size_t(W - 2)]);
    }
    corner.resize(size_t((H + 1) * (W + 1)));
    for (int64_t i = 0; i <= H; ++i)
      for (int64_t j = 0; j <= W; ++j)
        corner[size_t(i * (W + 1) + j)] =
            (g.periodic && j == W) ? corner[size_t(i * (W + 1))] : unit_vector(blat[size_t(i)], blon[size_t(j)]);
  }
  void cell(int64_t i, int64_t j, std::vector<Vec3>& out) const {
    const int64_t W1 = g.width() + 1;
    const Vec3 c[4] = {corner[size_t(i * W1 + j)], corner[size_t(i * W1 + j + 1)], corner[size_t((i + 1) * W1 + j + 1)],
                       corner[size_t((i + 1) * W1 + j)]};
    out.clear();
    for (const Vec3& v : c)
      if (out.empty() || std::memcmp(&out.back(), &v, sizeof v) != 0) out.push_back(v);
    if (out.size() > 1 && std::memcmp(&out.back(), &out.front(), sizeof(Vec3)) == 0) out.pop_back();
  }
  // Row band holding latitude `lat` (clamped to the grid).
  int64_t row(double lat) const {
    const auto it = std::upper_bound(blat.begin(), blat.end(), lat);
    return std::clamp<int64_t>(int64_t(it - blat.begin()) - 1, 0, g.height() - 1);
  }
  // Column holding longitude `lon` (periodic grids wrap; others clamp).
  int64_t column(double lon) const {
    double x = lon;
    if (g.periodic) x = blon[0] + wrap360(lon - blon[0]);
    const auto it = std::upper_bound(blon.begin(), blon.end(), x);
    return std::clamp<int64_t>(int64_t(it - blon.begin()) - 1, 0, g.width() - 1);
  }
  const Grid& g;
  std::vector<double> blat, blon;
  std::vector<Vec3> corner;
};

struct Overlap {
  int32_t s, t;  // unstructured cell, lat-lon cell (row-major)
  double area;   // steradians
};

// Overlap areas of every unstructured cell with the lat-lon cells.
std::vector<Overlap> overlaps(const UnstructuredGrid& u, const LatLonCells& ll) {
  if (!u.has_cells())
    fail(
        "remap: conservative weights need the columns' cells (corners in a SCRIP or UGRID file, or a global set of "
        "columns for Voronoi cells)");
  const Grid& g = ll.g;
  const int64_t W = g.width();
  std::vector<Overlap> all;
#pragma omp parallel
  {
    std::vector<Overlap> mine;
    std::vector<Vec3> target, out, scratch;
#pragma omp for schedule(dynamic, 256)
    for (int64_t s = 0; s < u.size(); ++s) {
      const std::span<const Vec3> poly = u.cell(s);
      Vec3 centre;
      double radius;
      bounding_cap(poly, centre, radius);
      double lat_lo = 90, lat_hi = -90, lon_lo = 0, lon_hi = 0, lon0 = 0;
      for (size_t k = 0; k < poly.size(); ++k) {
        double la, lo;
        lat_lon_of(poly[k], la, lo);
        lat_lo = std::min(lat_lo, la);
        lat_hi = std::max(lat_hi, la);
        if (k == 0) lon0 = lo;
        const double d = wrap180(lo - lon0);
        lon_lo = std::min(lon_lo, d);
        lon_hi = std::max(lon_hi, d);
      }
      const double margin = radius + 1e-9;
      bool all_lon = radius > kPi / 6 || !g.periodic;
      if (angle_between(centre, {0, 0, 1}) <= margin) {
        lat_hi = 90;
        all_lon = true;
      }
      if (angle_between(centre, {0, 0, -1}) <= margin) {
        lat_lo = -90;
        all_lon = true;
      }
      const int64_t i0 = std::max<int64_t>(0, ll.row(lat_lo) - 1), i1 = std::min(g.height() - 1, ll.row(lat_hi) + 1);
      int64_t j0 = 0, nj = W;
      if (!all_lon) {
        j0 = ll.column(lon0 + lon_lo) - 1;
        const int64_t j1 = ll.column(lon0 + lon_hi) + 1;
        nj = std::min<int64_t>(W, ((j1 - j0) % W + W) % W + 1);
      }
      for (int64_t i = i0; i <= i1; ++i)
        for (int64_t k = 0; k < nj; ++k) {
          const int64_t j = ((j0 + k) % W + W) % W;
          ll.cell(i, j, target);
          clip_to_convex(poly, target, out, scratch);
          if (out.empty()) continue;
          const double a = spherical_polygon_area(out);
          if (a > 0) mine.push_back({int32_t(s), int32_t(i * W + j), a});
        }
    }
#pragma omp critical
    all.insert(all.end(), mine.begin(), mine.end());
  }
  return all;
}

// Rows of a weights matrix from (row, col, value) triplets: sorted, value / row total.
void fill_rows(RemapWeights& w, std::vector<Overlap>& ov, bool rows_are_latlon, int64_t n_rows,
               std::vector<double>& row_total) {
  auto row_of = [&](const Overlap& o) { return rows_are_latlon ? o.t : o.s; };
  auto col_of = [&](const Overlap& o) { return rows_are_latlon ? o.s : o.t; };
  std::sort(ov.begin(), ov.end(), [&](const Overlap& a, const Overlap& b) {
    return row_of(a) != row_of(b) ? row_of(a) < row_of(b) : col_of(a) < col_of(b);
  });
  row_total.assign(size_t(n_rows), 0.0);
  for (const Overlap& o : ov) row_total[size_t(row_of(o))] += o.area;
  w.row_start.assign(size_t(n_rows) + 1, 0);
  w.col.resize(ov.size());
  w.weight.resize(ov.size());
  for (size_t k = 0; k < ov.size(); ++k) {
    const int32_t r = row_of(ov[k]);
    ++w.row_start[size_t(r) + 1];
    w.col[k] = col_of(ov[k]);
    w.weight[k] = ov[k].area / row_total[size_t(r)];
  }
  for (int64_t r = 0; r < n_rows; ++r) w.row_start[size_t(r) + 1] += w.row_start[size_t(r)];
}

template <class T>
void put_bytes(std::string& s, const std::vector<T>& v) {
  const uint64_t n = v.size();
  s.append(reinterpret_cast<const char*>(&n), sizeof n);
  if (n > 0) s.append(reinterpret_cast<const char*>(v.data()), n * sizeof(T));
}
template <class T>
void get_bytes(const std::string& s, size_t& at, std::vector<T>& v) {
  uint64_t n = 0;
  if (at + sizeof n > s.size()) fail("remap weights: truncated image");
  std::memcpy(&n, s.data() + at, sizeof n);
  at += sizeof n;
  if (n > (s.size() - at) / sizeof(T)) fail("remap weights: truncated image");
  v.resize(n);
  if (n > 0) std::memcpy(v.data(), s.data() + at, n * sizeof(T));  // an empty vector's data() may be null
  at += n * sizeof(T);
}
void put_grid(std::string& s, const RemapGrid& g) {
  put_bytes(s, g.lat);
  put_bytes(s, g.lon);
  put_bytes(s, std::vector<int64_t>{g.corners});
  put_bytes(s, g.corner_lat);
  put_bytes(s, g.corner_lon);
  put_bytes(s, g.area);
  put_bytes(s, g.dims);
}
void get_grid(const std::string& s, size_t& at, RemapGrid& g) {
  std::vector<int64_t> c;
  get_bytes(s, at, g.lat);
  get_bytes(s, at, g.lon);
  get_bytes(s, at, c);
  get_bytes(s, at, g.corner_lat);
  get_bytes(s, at, g.corner_lon);
  get_bytes(s, at, g.area);
  get_bytes(s, at, g.dims);
  if (c.size() != 1) fail("remap weights: malformed image");
  g.corners = c[0];
}

}  // namespace

const char* remap_method_name(RemapMethod m) { return m == RemapMethod::bilinear ? "bilinear" : "conservative"; }

RemapGrid RemapGrid::describe(const Grid& g) {
  check_latlon(g, "");
  RemapGrid r;
  const int64_t H = g.height(), W = g.width();
  LatLonCells ll(g);
  r.dims = {W, H};
  r.corners = 4;
  r.lat.resize(size_t(H * W));
  r.lon.resize(size_t(H * W));
  r.corner_lat.resize(size_t(H * W * 4));
  r.corner_lon.resize(size_t(H * W * 4));
  r.area.resize(size_t(H * W));
  std::vector<Vec3> cell;
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) {
      const size_t n = size_t(i * W + j);
      r.lat[n] = g.lat[size_t(i)];
      r.lon[n] = g.lon[size_t(j)];
      const double cl[4] = {ll.blat[size_t(i)], ll.blat[size_t(i)], ll.blat[size_t(i + 1)], ll.blat[size_t(i + 1)]};
      const double co[4] = {ll.blon[size_t(j)], ll.blon[size_t(j + 1)], ll.blon[size_t(j + 1)], ll.blon[size_t(j)]};
      for (int k = 0; k < 4; ++k) {
        r.corner_lat[n * 4 + size_t(k)] = cl[k];
        r.corner_lon[n * 4 + size_t(k)] = wrap360(co[k]);
      }
      ll.cell(i, j, cell);
      r.area[n] = spherical_polygon_area(cell);
    }
  return r;
}

RemapGrid RemapGrid::describe(const UnstructuredGrid& u) {
  RemapGrid r;
  r.lat = u.lat;
  r.lon = u.lon;
  r.dims = {u.size()};
  r.area.resize(size_t(u.size()));
  for (int64_t i = 0; i < u.size(); ++i) r.area[size_t(i)] = u.area_m2[size_t(i)] / (kEarthRadius * kEarthRadius);
  if (!u.has_cells()) return r;
  int64_t nv = 0;
  for (int64_t i = 0; i < u.size(); ++i) nv = std::max<int64_t>(nv, int64_t(u.cell(i).size()));
  r.corners = nv;
  r.corner_lat.resize(size_t(u.size() * nv));
  r.corner_lon.resize(size_t(u.size() * nv));
  for (int64_t i = 0; i < u.size(); ++i) {
    const auto c = u.cell(i);
    for (int64_t k = 0; k < nv; ++k) {
      double la, lo;
      lat_lon_of(c[std::min(size_t(k), c.size() - 1)], la, lo);
      r.corner_lat[size_t(i * nv + k)] = la;
      r.corner_lon[size_t(i * nv + k)] = lo;
    }
  }
  return r;
}

namespace {

template <class T>
void apply_rows(const RemapWeights& w, std::span<const T> in, std::span<T> out) {
  if (int64_t(in.size()) != w.source_size() || int64_t(out.size()) != w.target_size())
    fail("remap: weights map {} points to {}, got a field of {} to {}", w.source_size(), w.target_size(), in.size(),
         out.size());
  const int64_t nt = w.target_size();
#pragma omp parallel for schedule(static, 4096)
  for (int64_t t = 0; t < nt; ++t) {
    double sum = 0, w_all = 0, w_valid = 0;
    for (int64_t k = w.row_start[size_t(t)]; k < w.row_start[size_t(t) + 1]; ++k) {
      const double x = w.weight[size_t(k)];
      const T v = in[size_t(w.col[size_t(k)])];
      w_all += x;
      if (std::isnan(v)) continue;
      w_valid += x;
      sum += x * double(v);
    }
    if (w_valid <= 0) {
      out[size_t(t)] = std::numeric_limits<T>::quiet_NaN();
    } else {
      out[size_t(t)] = T(w_valid == w_all ? sum : sum * (w_all / w_valid));
    }
  }
}

}  // namespace

void RemapWeights::apply(std::span<const float> in, std::span<float> out) const { apply_rows(*this, in, out); }
void RemapWeights::apply(std::span<const double> in, std::span<double> out) const { apply_rows(*this, in, out); }

Tensor RemapWeights::apply(const Tensor& in) const {
  const auto& shape = in.shape();
  if (shape.empty() || shape.back() != source_size())
    fail("remap: a tensor's last dimension must be the {} source points", source_size());
  std::vector<int64_t> out_shape(shape.begin(), shape.end());
  out_shape.back() = target_size();
  Tensor out = Tensor::empty(out_shape);
  const int64_t lead = in.numel() / source_size();
  for (int64_t l = 0; l < lead; ++l)
    apply(std::span<const float>(in.data() + l * source_size(), size_t(source_size())),
          std::span<float>(out.data() + l * target_size(), size_t(target_size())));
  return out;
}

std::string RemapWeights::serialize() const {
  std::string s;
  put_bytes(s, std::vector<int32_t>{int32_t(method)});
  put_grid(s, source);
  put_grid(s, target);
  put_bytes(s, source_frac);
  put_bytes(s, target_frac);
  put_bytes(s, row_start);
  put_bytes(s, col);
  put_bytes(s, weight);
  return s;
}

RemapWeights RemapWeights::deserialize(const std::string& s) {
  RemapWeights w;
  size_t at = 0;
  std::vector<int32_t> m;
  get_bytes(s, at, m);
  get_grid(s, at, w.source);
  get_grid(s, at, w.target);
  get_bytes(s, at, w.source_frac);
  get_bytes(s, at, w.target_frac);
  get_bytes(s, at, w.row_start);
  get_bytes(s, at, w.col);
  get_bytes(s, at, w.weight);
  if (m.size() != 1 || at != s.size()) fail("remap weights: malformed image");
  w.method = RemapMethod(m[0]);
  return w;
}

void RemapWeights::broadcast(const Comm& comm, int root) {
  if (comm.size() == 1) return;
  std::string bytes;
  if (comm.rank() == root) bytes = serialize();
  comm.broadcast(bytes, root);
  if (comm.rank() != root) *this = deserialize(bytes);
}

RemapWeights bilinear_weights(const UnstructuredGrid& u, const Grid& g) {
  check_latlon(g, "target");
  const int64_t H = g.height(), W = g.width(), nt = H * W;
  std::vector<int32_t> cols(size_t(nt) * 3, 0);
  std::vector<double> ws(size_t(nt) * 3, 0.0);
  std::vector<char> found(size_t(nt), 0);
  const auto& tri = u.triangulation;
#pragma omp parallel
  {
    int32_t hint = 0;
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        const size_t n = size_t(i * W + j);
        const Vec3 p = unit_vector(g.lat[size_t(i)], g.lon[size_t(j)]);
        const int32_t t = locate(tri, u.snapped, snap(p), hint);
        if (t < 0) continue;
        hint = t;
        const auto& v = tri.triangles[size_t(t)];
        const Vec3 a = u.xyz[size_t(v[0])], b = u.xyz[size_t(v[1])], c = u.xyz[size_t(v[2])];
        double l[3] = {std::max(0.0, det3(p, b, c)), std::max(0.0, det3(a, p, c)), std::max(0.0, det3(a, b, p))};
        const double sum = l[0] + l[1] + l[2];
        if (!(sum > 0)) {  // on a vertex to rounding: that vertex
          const double d[3] = {dot(p, a), dot(p, b), dot(p, c)};
          const int k = int(std::max_element(d, d + 3) - d);
          l[0] = l[1] = l[2] = 0;
          l[k] = 1;
        } else {
          for (double& x : l) x /= sum;
        }
        for (int k = 0; k < 3; ++k) {
          cols[n * 3 + size_t(k)] = v[size_t(k)];
          ws[n * 3 + size_t(k)] = l[k];
        }
        found[n] = 1;
      }
  }
  RemapWeights w;
  w.method = RemapMethod::bilinear;
  w.source = RemapGrid::describe(u);
  w.target = RemapGrid::describe(g);
  w.row_start.assign(size_t(nt) + 1, 0);
  w.target_frac.assign(size_t(nt), 0.0);
  for (int64_t n = 0; n < nt; ++n) {
    if (found[size_t(n)]) {
      w.target_frac[size_t(n)] = 1.0;
      for (int k = 0; k < 3; ++k)
        if (ws[size_t(n) * 3 + size_t(k)] > 0) {
          w.col.push_back(cols[size_t(n) * 3 + size_t(k)]);
          w.weight.push_back(ws[size_t(n) * 3 + size_t(k)]);
        }
    }
    w.row_start[size_t(n) + 1] = int64_t(w.col.size());
  }
  w.source_frac.assign(size_t(u.size()), 1.0);
  return w;
}

RemapWeights bilinear_weights(const Grid& g, const UnstructuredGrid& u) {
  check_latlon(g, "source");
  const int64_t H = g.height(), W = g.width(), nt = u.size();
  const bool polar = g.periodic && W % 2 == 0;
  const LatLonCells ll(g);
  std::vector<int32_t> cols(size_t(nt) * 8, 0);
  std::vector<double> ws(size_t(nt) * 8, 0.0);
  std::vector<int> count(size_t(nt), 0);
  auto fractional_lon = [&](double lon, int64_t& j0, int64_t& j1, double& f) -> bool {
    if (g.periodic) {
      const double x = g.lon[0] + wrap360(lon - g.lon[0]);
      const auto it = std::upper_bound(g.lon.begin(), g.lon.end(), x);
      j0 = int64_t(it - g.lon.begin()) - 1;
      j1 = (j0 + 1) % W;
      const double next = j1 == 0 ? g.lon[0] + 360.0 : g.lon[size_t(j1)];
      f = (x - g.lon[size_t(j0)]) / (next - g.lon[size_t(j0)]);
      return true;
    }
    if (lon < ll.blon[0] || lon > ll.blon[size_t(W)]) return false;
    if (lon <= g.lon[0]) {
      j0 = j1 = 0;
      f = 0;
    } else if (lon >= g.lon[size_t(W - 1)]) {
      j0 = j1 = W - 1;
      f = 0;
    } else {
      j0 = int64_t(std::upper_bound(g.lon.begin(), g.lon.end(), lon) - g.lon.begin()) - 1;
      j1 = j0 + 1;
      f = (lon - g.lon[size_t(j0)]) / (g.lon[size_t(j1)] - g.lon[size_t(j0)]);
    }
    return true;
  };
#pragma omp parallel for schedule(static, 1024)
  for (int64_t n = 0; n < nt; ++n) {
    const double lat = u.lat[size_t(n)];
    double lon = u.lon[size_t(n)];
    if (!g.periodic) {  // a regional grid may start west of 0°: bring the column into its range
      if (lon > ll.blon[size_t(W)]) lon -= 360.0;
      if (lon < ll.blon[0]) lon += 360.0;
    }
    int64_t j0, j1;
    double fx;
    if (!fractional_lon(lon, j0, j1, fx)) continue;
    // Rows (r0, r1) and the fraction between them; across a pole the second row is the first one
    // half way round.
    int64_t r0, r1, shift = 0;
    double fy;
    if (lat < g.lat[0]) {
      if (!g.periodic && lat < ll.blat[0]) continue;
      r0 = r1 = 0;
      fy = 0;
      if (polar) {
        shift = W / 2;
        fy = (g.lat[0] - lat) / (2.0 * (g.lat[0] + 90.0));
      }
    } else if (lat > g.lat[size_t(H - 1)]) {
      if (!g.periodic && lat > ll.blat[size_t(H)]) continue;
      r0 = r1 = H - 1;
      fy = 0;
      if (polar) {
        shift = W / 2;
        fy = (lat - g.lat[size_t(H - 1)]) / (2.0 * (90.0 - g.lat[size_t(H - 1)]));
      }
    } else {
      r0 = std::min<int64_t>(H - 2, int64_t(std::upper_bound(g.lat.begin(), g.lat.end(), lat) - g.lat.begin()) - 1);
      r1 = r0 + 1;
      fy = (lat - g.lat[size_t(r0)]) / (g.lat[size_t(r1)] - g.lat[size_t(r0)]);
    }
    if (!std::isfinite(fy)) fy = 0;  // a pole row's point of a CAM grid, for instance
    const int64_t c[4] = {r0 * W + j0, r0 * W + j1, r1 * W + (j0 + shift) % W, r1 * W + (j1 + shift) % W};
    const double wv[4] = {(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx};
    int m = 0;
    for (int k = 0; k < 4; ++k) {
      if (wv[k] <= 0) continue;
      bool merged = false;
      for (int q = 0; q < m; ++q)
        if (cols[size_t(n) * 8 + size_t(q)] == int32_t(c[k])) {
          ws[size_t(n) * 8 + size_t(q)] += wv[k];
          merged = true;
        }
      if (merged) continue;
      cols[size_t(n) * 8 + size_t(m)] = int32_t(c[k]);
      ws[size_t(n) * 8 + size_t(m)] = wv[k];
      ++m;
    }
    count[size_t(n)] = m;
  }
  RemapWeights w;
  w.method = RemapMethod::bilinear;
  w.source = RemapGrid::describe(g);
  w.target = RemapGrid::describe(u);
  w.row_start.assign(size_t(nt) + 1, 0);
  w.target_frac.assign(size_t(nt), 0.0);
  for (int64_t n = 0; n < nt; ++n) {
    for (int k = 0; k < count[size_t(n)]; ++k) {
      w.col.push_back(cols[size_t(n) * 8 + size_t(k)]);
      w.weight.push_back(ws[size_t(n) * 8 + size_t(k)]);
    }
    if (count[size_t(n)] > 0) w.target_frac[size_t(n)] = 1.0;
    w.row_start[size_t(n) + 1] = int64_t(w.col.size());
  }
  w.source_frac.assign(size_t(H * W), 1.0);
  return w;
}

RemapWeights conservative_weights(const UnstructuredGrid& u, const Grid& g) {
  check_latlon(g, "target");
  const LatLonCells ll(g);
  std::vector<Overlap> ov = overlaps(u, ll);
  RemapWeights w;
  w.method = RemapMethod::conservative;
  w.source = RemapGrid::describe(u);
  w.target = RemapGrid::describe(g);
  std::vector<double> covered;
  fill_rows(w, ov, true, g.size(), covered);
  w.target_frac.resize(size_t(g.size()));
  for (int64_t t = 0; t < g.size(); ++t) w.target_frac[size_t(t)] = covered[size_t(t)] / w.target.area[size_t(t)];
  w.source_frac.assign(size_t(u.size()), 0.0);
  for (const Overlap& o : ov) w.source_frac[size_t(o.s)] += o.area;
  for (int64_t s = 0; s < u.size(); ++s) w.source_frac[size_t(s)] /= w.source.area[size_t(s)];
  return w;
}

RemapWeights conservative_weights(const Grid& g, const UnstructuredGrid& u) {
  check_latlon(g, "source");
  const LatLonCells ll(g);
  std::vector<Overlap> ov = overlaps(u, ll);
  RemapWeights w;
  w.method = RemapMethod::conservative;
  w.source = RemapGrid::describe(g);
  w.target = RemapGrid::describe(u);
  std::vector<double> covered;
  fill_rows(w, ov, false, u.size(), covered);
  w.target_frac.resize(size_t(u.size()));
  for (int64_t s = 0; s < u.size(); ++s) w.target_frac[size_t(s)] = covered[size_t(s)] / w.target.area[size_t(s)];
  w.source_frac.assign(size_t(g.size()), 0.0);
  for (const Overlap& o : ov) w.source_frac[size_t(o.t)] += o.area;
  for (int64_t t = 0; t < g.size(); ++t) w.source_frac[size_t(t)] /= w.source.area[size_t(t)];
  return w;
}

}  // namespace climseg::geo
