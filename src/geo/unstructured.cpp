// Unstructured column grids: positions, triangulation, neighbours, cell polygons and areas.
#include "geo/unstructured.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <unordered_map>

#include "core/error.hpp"
#include "core/mpi.hpp"
#include "geo/grid.hpp"
#include "geo/polygon.hpp"

namespace climseg::geo {
namespace {

constexpr double kCornerTol = 1e-8;  // radians: corners this close are one corner

void check_positions(const std::vector<double>& lat, std::vector<double>& lon, const char* what) {
  if (lat.size() != lon.size()) fail("unstructured grid: {} latitudes but {} longitudes", lat.size(), lon.size());
  for (size_t i = 0; i < lat.size(); ++i) {
    if (!std::isfinite(lat[i]) || !std::isfinite(lon[i]) || lat[i] < -90.0 - 1e-9 || lat[i] > 90.0 + 1e-9)
      fail("unstructured grid: {} {} is at ({}, {}), not a position on the sphere", what, i, lat[i], lon[i]);
    double l = std::fmod(lon[i], 360.0);
    if (l < 0) l += 360.0;
    if (l >= 360.0) l -= 360.0;
    lon[i] = l;
  }
}

void set_positions(UnstructuredGrid& g) {
  const size_t n = g.lat.size();
  g.xyz.resize(n);
  g.snapped.resize(n);
  for (size_t i = 0; i < n; ++i) {
    g.xyz[i] = unit_vector(std::clamp(g.lat[i], -90.0, 90.0), g.lon[i]);
    g.snapped[i] = snap(g.xyz[i]);
  }
}

// Circumcentre on the sphere of each triangle (the outward normal of its plane).
std::vector<Vec3> circumcentres(const UnstructuredGrid& g) {
  const auto& tris = g.triangulation.triangles;
  std::vector<Vec3> cc(tris.size());
#pragma omp parallel for schedule(static)
  for (size_t t = 0; t < tris.size(); ++t) {
    const Vec3 a = g.xyz[size_t(tris[t][0])], b = g.xyz[size_t(tris[t][1])], c = g.xyz[size_t(tris[t][2])];
    cc[t] = normalized(cross(b - a, c - a));
  }
  return cc;
}

// Neighbours from the triangulation's edges, counter-clockwise; the Voronoi cells when global. Two
// passes over the vertex rings (sizes, then contents) keep the memory to the CSR arrays themselves.
void nodal_topology(UnstructuredGrid& g) {
  const int64_t n = g.size();
  g.neighbour_start.assign(size_t(n) + 1, 0);
#pragma omp parallel
  {
    std::vector<int32_t> ring;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      g.triangulation.vertex_ring(int32_t(i), ring);
      g.neighbour_start[size_t(i) + 1] = int64_t(ring.size());
    }
  }
  for (int64_t i = 0; i < n; ++i) g.neighbour_start[size_t(i) + 1] += g.neighbour_start[size_t(i)];
  g.neighbours.resize(size_t(g.neighbour_start.back()));
  g.area_m2.assign(size_t(n), 0.0);
  const double r2 = kEarthRadius * kEarthRadius;
  const bool global = g.global();
  std::vector<Vec3> cc;
  if (global) {
    cc = circumcentres(g);
    g.cells = UnstructuredGrid::Cells::voronoi;
    g.cell_start = g.neighbour_start;  // a closed ring: as many Voronoi corners as neighbours
    g.cell_corners.resize(size_t(g.cell_start.back()));
  } else {
    g.cells = UnstructuredGrid::Cells::none;
  }
#pragma omp parallel
  {
    std::vector<int32_t> ring, fan;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      g.triangulation.vertex_ring(int32_t(i), ring, &fan);
      std::copy(ring.begin(), ring.end(), g.neighbours.begin() + g.neighbour_start[size_t(i)]);
      if (!global) continue;
      Vec3* out = g.cell_corners.data() + g.cell_start[size_t(i)];
      for (size_t k = 0; k < fan.size(); ++k) out[k] = cc[size_t(fan[k])];
      double a = 0;
      for (size_t k = 0; k < fan.size(); ++k)
        a += spherical_triangle_area(g.xyz[size_t(i)], out[k], out[(k + 1) % fan.size()]);
      g.area_m2[size_t(i)] = a * r2;
    }
  }
  if (!global)
    for (const auto& t : g.triangulation.triangles) {
      const double a = spherical_triangle_area(g.xyz[size_t(t[0])], g.xyz[size_t(t[1])], g.xyz[size_t(t[2])]) * r2;
      for (int32_t v : t) g.area_m2[size_t(v)] += a / 3.0;
    }
}

template <class T>
void put(std::string& s, const std::vector<T>& v) {
  const uint64_t n = v.size();
  s.append(reinterpret_cast<const char*>(&n), sizeof n);
  s.append(reinterpret_cast<const char*>(v.data()), n * sizeof(T));
}
template <class T>
void get(const std::string& s, size_t& at, std::vector<T>& v) {
  uint64_t n = 0;
  if (at + sizeof n > s.size()) fail("unstructured grid: truncated grid image");
  std::memcpy(&n, s.data() + at, sizeof n);
  at += sizeof n;
  if (n > (s.size() - at) / sizeof(T)) fail("unstructured grid: truncated grid image");
  v.resize(n);
  std::memcpy(v.data(), s.data() + at, n * sizeof(T));
  at += n * sizeof(T);
}

}  // namespace

double angle_between(Vec3 a, Vec3 b) { return std::atan2(norm(cross(a, b)), dot(a, b)); }

std::vector<int64_t> merge_close_points(std::span<const Vec3> pts, double tol) {
  // Buckets of side tol: a point's partners lie in its bucket or one of the 26 around it.
  struct Key {
    int64_t x, y, z;
    bool operator==(const Key&) const = default;
  };
  struct Hash {
    size_t operator()(const Key& k) const {
      return size_t(k.x * 73856093LL) ^ size_t(k.y * 19349663LL) ^ size_t(k.z * 83492791LL);
    }
  };
  std::unordered_map<Key, std::vector<int64_t>, Hash> buckets;
  buckets.reserve(pts.size());
  std::vector<int64_t> id(pts.size());
  for (size_t i = 0; i < pts.size(); ++i) {
    const Vec3 p = pts[i];
    const Key k{int64_t(std::floor(p.x / tol)), int64_t(std::floor(p.y / tol)), int64_t(std::floor(p.z / tol))};
    int64_t found = -1;
    for (int dx = -1; dx <= 1 && found < 0; ++dx)
      for (int dy = -1; dy <= 1 && found < 0; ++dy)
        for (int dz = -1; dz <= 1 && found < 0; ++dz) {
          auto it = buckets.find(Key{k.x + dx, k.y + dy, k.z + dz});
          if (it == buckets.end()) continue;
          for (int64_t j : it->second)
            if (norm(pts[size_t(j)] - p) <= tol) {
              found = j;
              break;
            }
        }
    if (found >= 0) {
      id[i] = found;
    } else {
      id[i] = int64_t(i);
      buckets[k].push_back(int64_t(i));
    }
  }
  return id;
}

double UnstructuredGrid::total_area_m2() const { return std::accumulate(area_m2.begin(), area_m2.end(), 0.0); }

double UnstructuredGrid::mean_spacing_deg() const {
  double sum = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < size(); ++i)
    for (int32_t j : neighbours_of(i)) {
      sum += angle_between(xyz[size_t(i)], xyz[size_t(j)]);
      ++count;
    }
  return count ? sum / double(count) / kDegToRad : 0.0;
}

UnstructuredGrid UnstructuredGrid::from_nodes(std::vector<double> lat, std::vector<double> lon) {
  UnstructuredGrid g;
  check_positions(lat, lon, "column");
  g.lat = std::move(lat);
  g.lon = std::move(lon);
  set_positions(g);
  g.triangulation = triangulate_sphere(g.xyz);
  nodal_topology(g);
  return g;
}

UnstructuredGrid UnstructuredGrid::from_cells(std::vector<double> lat, std::vector<double> lon,
                                              int64_t corners_per_cell, std::span<const double> corner_lat,
                                              std::span<const double> corner_lon) {
  UnstructuredGrid g;
  check_positions(lat, lon, "cell");
  const int64_t n = int64_t(lat.size());
  const int64_t nv = corners_per_cell;
  if (nv < 3) fail("unstructured grid: cells need at least 3 corners, got {}", nv);
  if (int64_t(corner_lat.size()) != n * nv || int64_t(corner_lon.size()) != n * nv)
    fail("unstructured grid: {} cells of {} corners need {} corner latitudes and longitudes, got {} and {}", n, nv,
         n * nv, corner_lat.size(), corner_lon.size());
  g.lat = std::move(lat);
  g.lon = std::move(lon);
  set_positions(g);

  std::vector<Vec3> corners(size_t(n * nv));
  for (size_t k = 0; k < corners.size(); ++k) {
    if (!std::isfinite(corner_lat[k]) || !std::isfinite(corner_lon[k]) || std::abs(corner_lat[k]) > 90.0 + 1e-9)
      fail("unstructured grid: corner {} of cell {} is at ({}, {}), not a position on the sphere", k % size_t(nv),
           k / size_t(nv), corner_lat[k], corner_lon[k]);
    corners[k] = unit_vector(std::clamp(corner_lat[k], -90.0, 90.0), corner_lon[k]);
  }
  const std::vector<int64_t> cid = merge_close_points(corners, kCornerTol);

  // Polygons: merged corners, repeats dropped, counter-clockwise.
  std::vector<std::vector<int64_t>> poly(static_cast<size_t>(n));
  g.cells = Cells::given;
  g.cell_start.assign(size_t(n) + 1, 0);
  g.area_m2.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    auto& p = poly[size_t(i)];
    for (int64_t k = 0; k < nv; ++k) {
      const int64_t c = cid[size_t(i * nv + k)];
      if (p.empty() || p.back() != c) p.push_back(c);
    }
    while (p.size() > 1 && p.back() == p.front()) p.pop_back();
    if (p.size() < 3) fail("unstructured grid: cell {} has fewer than 3 distinct corners", i);
    std::vector<Vec3> v(p.size());
    for (size_t k = 0; k < p.size(); ++k) v[k] = corners[size_t(p[k])];
    double a = spherical_polygon_area(v);
    if (a < 0) {
      std::reverse(p.begin(), p.end());
      a = -a;
    }
    g.area_m2[size_t(i)] = a * kEarthRadius * kEarthRadius;
    g.cell_start[size_t(i) + 1] = g.cell_start[size_t(i)] + int64_t(p.size());
  }
  g.cell_corners.resize(size_t(g.cell_start.back()));
  for (int64_t i = 0; i < n; ++i)
    for (size_t k = 0; k < poly[size_t(i)].size(); ++k)
      g.cell_corners[size_t(g.cell_start[size_t(i)]) + k] = corners[size_t(poly[size_t(i)][k])];

  // Neighbours: cells that share an edge (a pair of merged corners).
  struct EdgeCell {
    int64_t a, b;
    int32_t cell;
  };
  std::vector<EdgeCell> edges;
  edges.reserve(size_t(g.cell_start.back()));
  for (int64_t i = 0; i < n; ++i) {
    const auto& p = poly[size_t(i)];
    for (size_t k = 0; k < p.size(); ++k) {
      const int64_t a = p[k], b = p[(k + 1) % p.size()];
      edges.push_back({std::min(a, b), std::max(a, b), int32_t(i)});
    }
  }
  std::sort(edges.begin(), edges.end(), [](const EdgeCell& x, const EdgeCell& y) {
    return x.a != y.a ? x.a < y.a : (x.b != y.b ? x.b < y.b : x.cell < y.cell);
  });
  std::vector<std::vector<int32_t>> nb(static_cast<size_t>(n));
  for (size_t s = 0; s < edges.size();) {
    size_t e = s;
    while (e < edges.size() && edges[e].a == edges[s].a && edges[e].b == edges[s].b) ++e;
    for (size_t x = s; x < e; ++x)
      for (size_t y = s; y < e; ++y)
        if (edges[x].cell != edges[y].cell) nb[size_t(edges[x].cell)].push_back(edges[y].cell);
    s = e;
  }
  g.neighbour_start.assign(size_t(n) + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    auto& v = nb[size_t(i)];
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    g.neighbour_start[size_t(i) + 1] = g.neighbour_start[size_t(i)] + int64_t(v.size());
  }
  g.neighbours.reserve(size_t(g.neighbour_start.back()));
  for (const auto& v : nb) g.neighbours.insert(g.neighbours.end(), v.begin(), v.end());

  g.triangulation = triangulate_sphere(g.xyz);
  return g;
}

std::string UnstructuredGrid::serialize() const {
  std::string s;
  put(s, lat);
  put(s, lon);
  put(s, area_m2);
  put(s, neighbour_start);
  put(s, neighbours);
  put(s, std::vector<int32_t>{int32_t(cells), triangulation.global ? 1 : 0});
  put(s, cell_start);
  put(s, cell_corners);
  put(s, triangulation.triangles);
  put(s, triangulation.adjacent);
  put(s, triangulation.vertex_triangle);
  put(s, std::vector<char>(description.begin(), description.end()));
  return s;
}

UnstructuredGrid UnstructuredGrid::deserialize(const std::string& s) {
  UnstructuredGrid g;
  size_t at = 0;
  std::vector<int32_t> flags;
  std::vector<char> text;
  get(s, at, g.lat);
  get(s, at, g.lon);
  get(s, at, g.area_m2);
  get(s, at, g.neighbour_start);
  get(s, at, g.neighbours);
  get(s, at, flags);
  get(s, at, g.cell_start);
  get(s, at, g.cell_corners);
  get(s, at, g.triangulation.triangles);
  get(s, at, g.triangulation.adjacent);
  get(s, at, g.triangulation.vertex_triangle);
  get(s, at, text);
  if (flags.size() != 2 || at != s.size()) fail("unstructured grid: malformed grid image");
  g.cells = Cells(flags[0]);
  g.triangulation.global = flags[1] != 0;
  g.description.assign(text.begin(), text.end());
  set_positions(g);
  return g;
}

void UnstructuredGrid::broadcast(const Comm& comm, int root) {
  if (comm.size() == 1) return;
  std::string bytes;
  if (comm.rank() == root) bytes = serialize();
  comm.broadcast(bytes, root);
  if (comm.rank() != root) *this = deserialize(bytes);
}

}  // namespace climseg::geo
