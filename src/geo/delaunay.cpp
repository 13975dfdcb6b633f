// Spherical Delaunay triangulation as the convex hull of the points: randomized incremental hull with
// a bipartite conflict graph (each face knows the points above it, each point the faces it sees).
#include "geo/delaunay.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.hpp"

namespace climseg::geo {
namespace {

struct Face {
  std::array<int32_t, 3> v{};
  std::array<int32_t, 3> nb{-1, -1, -1};  // across edge (v[k], v[k+1])
  uint32_t gen = 0;                       // bumped when the face dies, so stale conflict entries are seen
  bool alive = false;
  std::vector<int32_t> conflicts;  // points strictly above the face's plane
};

// A face as a point's conflict list remembers it: valid while the face lives in that generation.
struct FaceRef {
  int32_t face;
  uint32_t gen;
};

class Hull {
 public:
  explicit Hull(std::span<const SnappedPoint> p) : pts_(p), point_faces_(p.size()), seen_(p.size(), -1) {}

  void build(const std::vector<int32_t>& order);
  SphereTriangulation result(int64_t n) const;

 private:
  int orient(const Face& f, int32_t q) const {
    return orient3d(pts_[size_t(f.v[0])], pts_[size_t(f.v[1])], pts_[size_t(f.v[2])], pts_[size_t(q)]);
  }
  bool valid(FaceRef r) const { return faces_[size_t(r.face)].alive && faces_[size_t(r.face)].gen == r.gen; }
  int32_t new_face(int32_t a, int32_t b, int32_t c) {
    int32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = int32_t(faces_.size());
      faces_.emplace_back();
    }
    Face& f = faces_[size_t(id)];
    f.v = {a, b, c};
    f.nb = {-1, -1, -1};
    f.alive = true;
    return id;
  }
  void kill(int32_t id) {
    Face& f = faces_[size_t(id)];
    f.alive = false;
    ++f.gen;
    if (f.conflicts.capacity() > 16) std::vector<int32_t>().swap(f.conflicts);
    f.conflicts.clear();
    free_.push_back(id);
  }
  void add_conflict(int32_t face, int32_t q) {
    faces_[size_t(face)].conflicts.push_back(q);
    std::vector<FaceRef>& list = point_faces_[size_t(q)];
    list.push_back({face, faces_[size_t(face)].gen});
    // Drop dead entries now and then, so the lists stay as short as the live conflicts.
    const size_t s = list.size();
    if (s >= 8 && (s & (s - 1)) == 0)
      list.erase(std::remove_if(list.begin(), list.end(), [&](FaceRef r) { return !valid(r); }), list.end());
  }
  void insert(int32_t p);

  std::span<const SnappedPoint> pts_;
  std::vector<Face> faces_;
  std::vector<int32_t> free_;
  std::vector<std::vector<FaceRef>> point_faces_;
  std::vector<int64_t> seen_;  // per point: the serial of the last new face it was tested against
  int64_t serial_ = 0;
  // Scratch of one insertion.
  std::vector<int32_t> visible_, horizon_new_;
  std::vector<int64_t> visible_mark_;  // per face slot: the insertion that found it visible
  std::vector<int32_t> start_of_, end_of_;
  int64_t insertion_ = 0;
};

void Hull::build(const std::vector<int32_t>& order) {
  // The first tetrahedron: order[0..3] are affinely independent (checked by the caller).
  const int32_t t[4] = {order[0], order[1], order[2], order[3]};
  const int32_t tri[4][3] = {{t[0], t[1], t[2]}, {t[0], t[1], t[3]}, {t[0], t[2], t[3]}, {t[1], t[2], t[3]}};
  const int32_t other[4] = {t[3], t[2], t[1], t[0]};
  int32_t ids[4];
  for (int k = 0; k < 4; ++k) {
    int32_t a = tri[k][0], b = tri[k][1], c = tri[k][2];
    if (orient3d(pts_[size_t(a)], pts_[size_t(b)], pts_[size_t(c)], pts_[size_t(other[k])]) > 0) std::swap(b, c);
    ids[k] = new_face(a, b, c);
  }
  // Adjacency of the tetrahedron by matching each directed edge with its reverse.
  for (int f = 0; f < 4; ++f)
    for (int k = 0; k < 3; ++k) {
      Face& F = faces_[size_t(ids[f])];
      const int32_t a = F.v[size_t(k)], b = F.v[size_t((k + 1) % 3)];
      for (int g = 0; g < 4; ++g) {
        if (g == f) continue;
        const Face& G = faces_[size_t(ids[g])];
        for (int m = 0; m < 3; ++m)
          if (G.v[size_t(m)] == b && G.v[size_t((m + 1) % 3)] == a) F.nb[size_t(k)] = ids[g];
      }
    }
  for (size_t i = 4; i < order.size(); ++i)
    for (int f = 0; f < 4; ++f)
      if (orient(faces_[size_t(ids[f])], order[i]) > 0) add_conflict(ids[f], order[i]);
  start_of_.assign(pts_.size(), -1);
  end_of_.assign(pts_.size(), -1);
  for (size_t i = 4; i < order.size(); ++i) insert(order[i]);
}

void Hull::insert(int32_t p) {
  ++insertion_;
  visible_.clear();
  for (FaceRef r : point_faces_[size_t(p)])
    if (valid(r)) visible_.push_back(r.face);
  std::vector<FaceRef>().swap(point_faces_[size_t(p)]);
  if (visible_.empty()) {
    // Every point on the sphere is a vertex of the hull; one inside it is a near-duplicate.
    fail("triangulation: point {} lies inside the hull of the others (a near-duplicate of another point)", p);
  }
  if (visible_mark_.size() < faces_.size()) visible_mark_.resize(faces_.size(), -1);
  for (int32_t f : visible_) visible_mark_[size_t(f)] = insertion_;
  auto is_visible = [&](int32_t f) {
    return size_t(f) < visible_mark_.size() && visible_mark_[size_t(f)] == insertion_;
  };

  // New faces over the horizon: each edge (a, b) of a visible face whose neighbour is not visible.
  horizon_new_.clear();
  for (int32_t f : visible_)
    for (int k = 0; k < 3; ++k) {
      const int32_t g = faces_[size_t(f)].nb[size_t(k)];
      if (is_visible(g)) continue;
      const int32_t a = faces_[size_t(f)].v[size_t(k)], b = faces_[size_t(f)].v[size_t((k + 1) % 3)];
      const int32_t n = new_face(a, b, p);  // may grow faces_: no references held across this
      faces_[size_t(n)].nb[0] = g;
      Face& G = faces_[size_t(g)];
      for (int m = 0; m < 3; ++m)
        if (G.nb[size_t(m)] == f) G.nb[size_t(m)] = n;
      start_of_[size_t(a)] = n;
      end_of_[size_t(b)] = n;
      horizon_new_.push_back(n);
      horizon_new_.push_back(f);
    }
  for (size_t h = 0; h < horizon_new_.size(); h += 2) {
    const int32_t n = horizon_new_[h], f = horizon_new_[h + 1];
    Face& N = faces_[size_t(n)];
    N.nb[1] = start_of_[size_t(N.v[1])];  // edge (b, p): the new face that starts at b
    N.nb[2] = end_of_[size_t(N.v[0])];    // edge (p, a): the new face that ends at a
    // Conflicts: a point above the new face was above f or above the kept face across the edge.
    const int64_t s = ++serial_;
    const int32_t g = N.nb[0];
    for (int32_t src : {f, g}) {
      const std::vector<int32_t>& list = faces_[size_t(src)].conflicts;
      for (size_t i = 0; i < list.size(); ++i) {
        const int32_t q = list[i];
        if (q == p || seen_[size_t(q)] == s) continue;
        seen_[size_t(q)] = s;
        if (orient(faces_[size_t(n)], q) > 0) add_conflict(n, q);
      }
    }
  }
  for (int32_t f : visible_) kill(f);
}

SphereTriangulation Hull::result(int64_t n) const {
  // Faces kept: all live ones when the origin is strictly inside; otherwise those with it strictly below.
  const SnappedPoint origin{0, 0, 0};
  std::vector<int32_t> id(faces_.size(), -1);
  bool global = true;
  for (const Face& f : faces_)
    if (f.alive && orient3d(pts_[size_t(f.v[0])], pts_[size_t(f.v[1])], pts_[size_t(f.v[2])], origin) >= 0)
      global = false;
  SphereTriangulation out;
  out.global = global;
  for (size_t i = 0; i < faces_.size(); ++i) {
    const Face& f = faces_[i];
    if (!f.alive) continue;
    if (!global && orient3d(pts_[size_t(f.v[0])], pts_[size_t(f.v[1])], pts_[size_t(f.v[2])], origin) >= 0) continue;
    id[i] = int32_t(out.triangles.size());
    out.triangles.push_back(f.v);
  }
  out.adjacent.resize(out.triangles.size());
  out.vertex_triangle.assign(size_t(n), -1);
  for (size_t i = 0; i < faces_.size(); ++i) {
    if (id[i] < 0) continue;
    for (int k = 0; k < 3; ++k) {
      out.adjacent[size_t(id[i])][size_t(k)] = id[size_t(faces_[i].nb[size_t(k)])];
      out.vertex_triangle[size_t(faces_[i].v[size_t(k)])] = id[i];
    }
  }
  return out;
}

// The fast path for points that surround the centre of the sphere: the hull grows from a
// tetrahedron that holds the centre, so the faces' radial projections tile the sphere and the face
// whose spherical triangle holds a new point is one it sees (the point lies beyond it on the ray from
// the centre). That face is found by walking from the previous insertion's face (points come in a
// spatially coherent order), the rest of the visible region by a search over neighbours: no conflict
// lists, O(1) expected work per point after the sort.
class WalkHull {
 public:
  explicit WalkHull(std::span<const SnappedPoint> p) : pts_(p), start_of_(p.size(), -1), end_of_(p.size(), -1) {}

  // False when the four points do not hold the centre strictly inside (then use Hull).
  bool start(const int32_t t[4]) {
    const int32_t tri[4][3] = {{t[0], t[1], t[2]}, {t[0], t[1], t[3]}, {t[0], t[2], t[3]}, {t[1], t[2], t[3]}};
    const int32_t other[4] = {t[3], t[2], t[1], t[0]};
    const SnappedPoint origin{0, 0, 0};
    for (int k = 0; k < 4; ++k) {
      int32_t a = tri[k][0], b = tri[k][1], c = tri[k][2];
      if (orient3d(pts_[size_t(a)], pts_[size_t(b)], pts_[size_t(c)], pts_[size_t(other[k])]) > 0) std::swap(b, c);
      if (orient3d(pts_[size_t(a)], pts_[size_t(b)], pts_[size_t(c)], origin) >= 0) return false;
      faces_.push_back({{a, b, c}, {-1, -1, -1}, true});
    }
    for (int f = 0; f < 4; ++f)
      for (int k = 0; k < 3; ++k) {
        const int32_t a = faces_[size_t(f)].v[size_t(k)], b = faces_[size_t(f)].v[size_t((k + 1) % 3)];
        for (int g = 0; g < 4; ++g)
          for (int m = 0; m < 3 && g != f; ++m)
            if (faces_[size_t(g)].v[size_t(m)] == b && faces_[size_t(g)].v[size_t((m + 1) % 3)] == a)
              faces_[size_t(f)].nb[size_t(k)] = g;
      }
    return true;
  }

  void insert(int32_t p) {
    const SnappedPoint& q = pts_[size_t(p)];
    int32_t f = locate_visible(q, p);
    ++insertion_;
    visible_.assign(1, f);
    mark(f);
    for (size_t h = 0; h < visible_.size(); ++h)
      for (int32_t g : faces_[size_t(visible_[h])].nb)
        if (!marked(g) && orient(g, q) > 0) {
          mark(g);
          visible_.push_back(g);
        }
    new_.clear();
    for (int32_t v : visible_)
      for (int k = 0; k < 3; ++k) {
        const int32_t g = faces_[size_t(v)].nb[size_t(k)];
        if (marked(g)) continue;
        const int32_t a = faces_[size_t(v)].v[size_t(k)], b = faces_[size_t(v)].v[size_t((k + 1) % 3)];
        const int32_t n = new_face(a, b, p);
        faces_[size_t(n)].nb[0] = g;
        for (int32_t& x : faces_[size_t(g)].nb)
          if (x == v) x = n;
        start_of_[size_t(a)] = n;
        end_of_[size_t(b)] = n;
        new_.push_back(n);
      }
    for (int32_t n : new_) {
      Face& N = faces_[size_t(n)];
      N.nb[1] = start_of_[size_t(N.v[1])];
      N.nb[2] = end_of_[size_t(N.v[0])];
    }
    for (int32_t v : visible_) {
      faces_[size_t(v)].alive = false;
      free_.push_back(v);
    }
    hint_ = new_.front();
  }

  SphereTriangulation result(int64_t n) const {
    std::vector<int32_t> id(faces_.size(), -1);
    SphereTriangulation out;
    out.global = true;
    for (size_t i = 0; i < faces_.size(); ++i)
      if (faces_[i].alive) {
        id[i] = int32_t(out.triangles.size());
        out.triangles.push_back(faces_[i].v);
      }
    out.adjacent.resize(out.triangles.size());
    out.vertex_triangle.assign(size_t(n), -1);
    for (size_t i = 0; i < faces_.size(); ++i) {
      if (id[i] < 0) continue;
      for (int k = 0; k < 3; ++k) {
        out.adjacent[size_t(id[i])][size_t(k)] = id[size_t(faces_[i].nb[size_t(k)])];
        out.vertex_triangle[size_t(faces_[i].v[size_t(k)])] = id[i];
      }
    }
    return out;
  }

 private:
  struct Face {
    std::array<int32_t, 3> v;
    std::array<int32_t, 3> nb;
    bool alive;
  };
  int orient(int32_t f, const SnappedPoint& q) const {
    const auto& v = faces_[size_t(f)].v;
    return orient3d(pts_[size_t(v[0])], pts_[size_t(v[1])], pts_[size_t(v[2])], q);
  }
  void mark(int32_t f) {
    if (mark_.size() < faces_.size()) mark_.resize(faces_.size() * 2, 0);
    mark_[size_t(f)] = insertion_;
  }
  bool marked(int32_t f) const { return size_t(f) < mark_.size() && mark_[size_t(f)] == insertion_; }
  int32_t new_face(int32_t a, int32_t b, int32_t c) {
    int32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = int32_t(faces_.size());
      faces_.push_back({});
    }
    faces_[size_t(id)] = {{a, b, c}, {-1, -1, -1}, true};
    return id;
  }
  // A face that q sees: the one whose spherical triangle holds q, by a walk from the hint.
  int32_t locate_visible(const SnappedPoint& q, int32_t p) {
    int32_t t = hint_;
    const int64_t max_steps = 4096 + int64_t(std::sqrt(double(faces_.size()))) * 8;
    for (int64_t step = 0; step < max_steps; ++step) {
      const auto& v = faces_[size_t(t)].v;
      int32_t next = -1;
      for (int e = 0; e < 3; ++e) {
        const int k = int((e + step) % 3);
        if (orient_origin(pts_[size_t(v[size_t(k)])], pts_[size_t(v[size_t((k + 1) % 3)])], q) < 0) {
          next = faces_[size_t(t)].nb[size_t(k)];
          break;
        }
      }
      if (next < 0) {
        if (orient(t, q) > 0) return t;
        break;  // held but not seen: cannot happen for points on the sphere; search below
      }
      t = next;
    }
    // The walk ran out, or ended on a face that holds q without seeing it (a point on a face's
    // plane): the visible faces nearest it, by a search over neighbours (every face is reachable).
    ++insertion_;
    visible_.assign(1, t);
    mark(t);
    for (size_t h = 0; h < visible_.size(); ++h) {
      const int32_t f = visible_[h];
      if (orient(f, q) > 0) return f;
      for (int32_t g : faces_[size_t(f)].nb)
        if (!marked(g)) {
          mark(g);
          visible_.push_back(g);
        }
    }
    fail("triangulation: point {} lies inside the hull of the others (a near-duplicate of another point)", p);
  }

  std::span<const SnappedPoint> pts_;
  std::vector<Face> faces_;
  std::vector<int32_t> free_, visible_, new_;
  std::vector<int64_t> mark_;
  std::vector<int32_t> start_of_, end_of_;
  int64_t insertion_ = 0;
  int32_t hint_ = 0;
};

// Key of a point along a space-filling curve: its cube face, then a Hilbert index of 2^16 x 2^16 cells
// of the face, so consecutive points are close on the sphere.
uint64_t curve_key(const Vec3& p) {
  const double ax = std::abs(p.x), ay = std::abs(p.y), az = std::abs(p.z);
  int face;
  double u, v;
  if (ax >= ay && ax >= az) {
    face = p.x > 0 ? 0 : 1;
    u = p.y / ax, v = p.z / ax;
  } else if (ay >= az) {
    face = p.y > 0 ? 2 : 3;
    u = p.x / ay, v = p.z / ay;
  } else {
    face = p.z > 0 ? 4 : 5;
    u = p.x / az, v = p.y / az;
  }
  const uint32_t side = 1u << 16;
  uint32_t x = std::min<uint32_t>(side - 1, uint32_t((u + 1) * 0.5 * side));
  uint32_t y = std::min<uint32_t>(side - 1, uint32_t((v + 1) * 0.5 * side));
  uint64_t d = 0;
  for (uint32_t s = side / 2; s > 0; s /= 2) {
    const uint32_t rx = (x & s) ? 1 : 0, ry = (y & s) ? 1 : 0;
    d += uint64_t(s) * s * ((3 * rx) ^ ry);
    if (ry == 0) {
      if (rx == 1) {
        x = side - 1 - x;
        y = side - 1 - y;
      }
      std::swap(x, y);
    }
  }
  return (uint64_t(face) << 40) | d;
}

}  // namespace

SphereTriangulation triangulate_sphere(std::span<const Vec3> points) {
  const int64_t n = int64_t(points.size());
  if (n < 4) fail("triangulation: needs at least 4 points, got {}", n);
  if (n > int64_t(INT32_MAX) / 4) fail("triangulation: {} points is more than this triangulation handles", n);
  std::vector<SnappedPoint> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const Vec3 u = normalized(points[size_t(i)]);
    if (!std::isfinite(u.x) || !std::isfinite(u.y) || !std::isfinite(u.z) || norm(u) == 0)
      fail("triangulation: point {} is not a finite position", i);
    s[size_t(i)] = snap(u);
  }
  // Coincident points would make the hull lose a vertex.
  {
    std::vector<int32_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    auto key = [&](int32_t i) { return std::array<int64_t, 3>{s[size_t(i)].x, s[size_t(i)].y, s[size_t(i)].z}; };
    std::sort(idx.begin(), idx.end(),
              [&](int32_t a, int32_t b) { return key(a) < key(b) || (key(a) == key(b) && a < b); });
    for (size_t i = 1; i < idx.size(); ++i)
      if (s[size_t(idx[i])] == s[size_t(idx[i - 1])])
        fail("triangulation: points {} and {} are at the same position", idx[i - 1], idx[i]);
  }
  // A fixed random order (the expected O(n log n) needs it; fixed keeps results reproducible).
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(0x5eed5eedULL);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng() % uint64_t(i + 1))]);
  // Four affinely independent points first.
  const SnappedPoint& a = s[size_t(order[0])];
  const SnappedPoint& b = s[size_t(order[1])];
  size_t k2 = 2;
  for (; k2 < order.size(); ++k2) {
    const SnappedPoint& c = s[size_t(order[k2])];
    // Not collinear with a and b: some orientation with a fourth lattice point is nonzero.
    const SnappedPoint e[3] = {{a.x + 1, a.y, a.z}, {a.x, a.y + 1, a.z}, {a.x, a.y, a.z + 1}};
    bool independent = false;
    for (const auto& d : e) independent = independent || orient3d(a, b, c, d) != 0;
    if (independent) break;
  }
  if (k2 == order.size()) fail("triangulation: all {} points lie on one line", n);
  std::swap(order[2], order[k2]);
  size_t k3 = 3;
  for (; k3 < order.size(); ++k3)
    if (orient3d(a, b, s[size_t(order[2])], s[size_t(order[k3])]) != 0) break;
  if (k3 == order.size()) fail("triangulation: all {} points lie on one plane (one circle of the sphere)", n);
  std::swap(order[3], order[k3]);

  // Points around the whole sphere: the walking hull from a tetrahedron of extreme points that holds
  // the centre, points in biased randomized insertion order (rounds of doubling size, each along a
  // space-filling curve; Amenta, Choi and Rote 2003). Otherwise (a regional set): the conflict graph.
  SphereTriangulation out;
  {
    const Vec3 dirs[4] = {{1, 1, 1}, {1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}};
    int32_t t[4];
    for (int k = 0; k < 4; ++k) {
      double best = -2;
      for (int64_t i = 0; i < n; ++i) {
        const double d = dot(normalized(points[size_t(i)]), dirs[k]);
        if (d > best) best = d, t[k] = int32_t(i);
      }
    }
    bool distinct = true;
    for (int x = 0; x < 4; ++x)
      for (int y = x + 1; y < 4; ++y) distinct = distinct && t[x] != t[y];
    WalkHull walk(s);
    if (distinct && walk.start(t)) {
      std::vector<uint64_t> key(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) key[size_t(i)] = curve_key(normalized(points[size_t(i)]));
      std::vector<int32_t> rest;
      for (int32_t i : order)
        if (i != t[0] && i != t[1] && i != t[2] && i != t[3]) rest.push_back(i);
      // Rounds: the last half of the (random) order, sorted along the curve, the half before it, ...
      size_t end = rest.size();
      std::vector<std::pair<size_t, size_t>> rounds;
      while (end > 0) {
        const size_t begin = end > 64 ? end / 2 : 0;
        rounds.push_back({begin, end});
        end = begin;
      }
      for (auto it = rounds.rbegin(); it != rounds.rend(); ++it) {
        std::sort(rest.begin() + long(it->first), rest.begin() + long(it->second), [&](int32_t x, int32_t y) {
          return key[size_t(x)] != key[size_t(y)] ? key[size_t(x)] < key[size_t(y)] : x < y;
        });
        for (size_t k = it->first; k < it->second; ++k) walk.insert(rest[k]);
      }
      out = walk.result(n);
    } else {
      Hull hull(s);
      hull.build(order);
      out = hull.result(n);
    }
  }
  for (int64_t i = 0; i < n; ++i)
    if (out.vertex_triangle[size_t(i)] < 0 && out.global) fail("triangulation: point {} lost its triangles", i);
  return out;
}

void SphereTriangulation::vertex_ring(int32_t v, std::vector<int32_t>& neighbours, std::vector<int32_t>* fan) const {
  neighbours.clear();
  if (fan) fan->clear();
  const int32_t t0 = vertex_triangle[size_t(v)];
  if (t0 < 0) return;
  auto pos = [&](int32_t t) {
    const auto& tr = triangles[size_t(t)];
    return tr[0] == v ? 0 : (tr[1] == v ? 1 : 2);
  };
  // Clockwise to the boundary (or all the way round).
  int32_t start = t0;
  for (;;) {
    const int32_t prev = adjacent[size_t(start)][size_t(pos(start))];  // across edge (v, next vertex)
    if (prev < 0 || prev == t0) break;
    start = prev;
  }
  int32_t t = start;
  for (;;) {
    const int k = pos(t);
    const auto& tr = triangles[size_t(t)];
    neighbours.push_back(tr[size_t((k + 1) % 3)]);
    if (fan) fan->push_back(t);
    const int32_t next = adjacent[size_t(t)][size_t((k + 2) % 3)];  // across edge (previous vertex, v)
    if (next < 0) {
      neighbours.push_back(tr[size_t((k + 2) % 3)]);
      if (fan) fan->push_back(-1);
      break;
    }
    if (next == start) break;
    t = next;
  }
}

int32_t locate(const SphereTriangulation& tri, std::span<const SnappedPoint> vs, const SnappedPoint& p, int32_t hint) {
  const int32_t nt = int32_t(tri.triangles.size());
  if (nt == 0) return -1;
  int32_t t = hint >= 0 && hint < nt ? hint : 0;
  const int64_t max_steps = 8 * int64_t(std::sqrt(double(nt))) + 1000;
  for (int64_t step = 0; step < max_steps; ++step) {
    const auto& v = tri.triangles[size_t(t)];
    int32_t next = -2;
    for (int e = 0; e < 3; ++e) {
      const int k = int((e + step) % 3);  // vary the first edge tried, so a walk cannot cycle for ever
      if (orient_origin(vs[size_t(v[size_t(k)])], vs[size_t(v[size_t((k + 1) % 3)])], p) < 0) {
        next = tri.adjacent[size_t(t)][size_t(k)];
        break;
      }
    }
    if (next == -2) return t;
    if (next < 0) return -1;
    t = next;
  }
  // Not reached on a Delaunay triangulation; kept as a guarantee.
  for (int32_t u = 0; u < nt; ++u) {
    const auto& v = tri.triangles[size_t(u)];
    if (orient_origin(vs[size_t(v[0])], vs[size_t(v[1])], p) >= 0 &&
        orient_origin(vs[size_t(v[1])], vs[size_t(v[2])], p) >= 0 &&
        orient_origin(vs[size_t(v[2])], vs[size_t(v[0])], p) >= 0)
      return u;
  }
  return -1;
}

}  // namespace climseg::geo
