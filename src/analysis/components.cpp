// Union-find labelling of masks on the sphere and per-component statistics.
#include "analysis/components.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"

namespace climseg::analysis {
namespace {

class UnionFind {
 public:
  int32_t make() {
    parent_.push_back(static_cast<int32_t>(parent_.size()));
    return parent_.back();
  }
  int32_t find(int32_t x) {
    while (parent_[size_t(x)] != x) {
      parent_[size_t(x)] = parent_[size_t(parent_[size_t(x)])];  // path halving
      x = parent_[size_t(x)];
    }
    return x;
  }
  void unite(int32_t a, int32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (a < b) std::swap(a, b);
    parent_[size_t(a)] = b;  // the smaller provisional label (earlier in raster order) is the root
  }
  size_t size() const { return parent_.size(); }

 private:
  std::vector<int32_t> parent_;
};

struct Vec3 {
  double x = 0, y = 0, z = 0;
};

inline Vec3 unit(double lat_deg, double lon_deg) {
  const double p = lat_deg * geo::kDegToRad, l = lon_deg * geo::kDegToRad;
  return {std::cos(p) * std::cos(l), std::cos(p) * std::sin(l), std::sin(p)};
}

double wrap360(double lon) {
  double r = std::fmod(lon, 360.0);
  return r < 0 ? r + 360.0 : r;
}

}  // namespace

ComponentLabels label_components(const geo::Grid& grid, std::span<const uint8_t> mask, Connectivity connectivity) {
  const int64_t H = grid.height(), W = grid.width();
  if (mask.size() != size_t(H * W))
    fail("connected components: mask has {} cells but the grid {} has {}", mask.size(), grid.shape_str(), H * W);
  const bool diag = connectivity == Connectivity::eight;
  const bool wrap = grid.periodic && W > 1;
  ComponentLabels out;
  out.labels.assign(size_t(H * W), -1);  // provisional labels; -1 background
  UnionFind uf;
  auto at = [&](int64_t i, int64_t j) -> int32_t& { return out.labels[size_t(i * W + j)]; };

  for (int64_t i = 0; i < H; ++i) {
    for (int64_t j = 0; j < W; ++j) {
      if (!mask[size_t(i * W + j)]) continue;
      int32_t mine = -1;
      auto join = [&](int64_t ii, int64_t jj) {
        if (jj < 0 || jj >= W) {
          if (!wrap) return;
          jj = (jj + W) % W;
        }
        const int32_t other = at(ii, jj);
        if (other < 0) return;
        if (mine < 0)
          mine = other;
        else
          uf.unite(mine, other);
      };
      if (j > 0) join(i, j - 1);
      if (i > 0) {
        join(i - 1, j);
        if (diag) {
          join(i - 1, j - 1);
          join(i - 1, j + 1);
        }
      }
      at(i, j) = mine < 0 ? uf.make() : mine;
    }
    // The same row across the seam: column W−1 (just labelled) touches column 0.
    if (wrap && at(i, 0) >= 0 && at(i, W - 1) >= 0) uf.unite(at(i, 0), at(i, W - 1));
  }

  // Final ids 1..n in order of each root's first appearance in raster order.
  std::vector<int32_t> final_id(uf.size(), 0);
  int32_t next = 0;
  for (auto& l : out.labels) {
    if (l < 0) {
      l = 0;
      continue;
    }
    const int32_t root = uf.find(l);
    if (final_id[size_t(root)] == 0) final_id[size_t(root)] = ++next;
    l = final_id[size_t(root)];
  }
  out.count = next;
  return out;
}

std::vector<ComponentStats> component_stats(const geo::Grid& grid, const ComponentLabels& labels,
                                            const StatsOptions& options) {
  const int64_t H = grid.height(), W = grid.width();
  const size_t n = size_t(labels.count);
  if (labels.labels.size() != size_t(H * W)) fail("component statistics: labels do not match the grid");
  if (!options.field.empty() && options.field.size() != size_t(H * W))
    fail("component statistics: the field has {} cells, the grid {}", options.field.size(), H * W);
  if (!options.valid.empty() && options.valid.size() != size_t(H * W))
    fail("component statistics: the validity mask has {} cells, the grid {}", options.valid.size(), H * W);

  const std::vector<double> row_area = grid.row_areas();
  std::vector<ComponentStats> st(n);
  std::vector<Vec3> vsum(n);
  std::vector<std::vector<uint8_t>> columns(n);
  for (size_t c = 0; c < n; ++c) {
    st[c].id = int32_t(c + 1);
    st[c].lat_min = std::numeric_limits<double>::infinity();
    st[c].lat_max = -std::numeric_limits<double>::infinity();
    st[c].peak_value =
        options.peak_is_minimum ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }

  for (int64_t i = 0; i < H; ++i) {
    const double a_km2 = row_area[size_t(i)] * 1e-6;
    for (int64_t j = 0; j < W; ++j) {
      const int32_t id = labels.labels[size_t(i * W + j)];
      if (id <= 0) continue;
      ComponentStats& s = st[size_t(id - 1)];
      s.cells += 1;
      s.area_km2 += a_km2;
      const Vec3 u = unit(grid.lat[size_t(i)], grid.lon[size_t(j)]);
      Vec3& v = vsum[size_t(id - 1)];
      v.x += a_km2 * u.x;
      v.y += a_km2 * u.y;
      v.z += a_km2 * u.z;
      s.lat_min = std::min(s.lat_min, grid.lat[size_t(i)]);
      s.lat_max = std::max(s.lat_max, grid.lat[size_t(i)]);
      auto& cols = columns[size_t(id - 1)];
      if (cols.empty()) cols.assign(size_t(W), 0);
      cols[size_t(j)] = 1;
      if (!options.field.empty() && (options.valid.empty() || options.valid[size_t(i * W + j)] != 0.0f)) {
        const double f = options.field[size_t(i * W + j)];
        const bool better = options.peak_is_minimum ? f < s.peak_value : f > s.peak_value;
        if (better && std::isfinite(f)) {
          s.peak_value = f;
          s.peak_lat = grid.lat[size_t(i)];
          s.peak_lon = grid.lon[size_t(j)];
          s.has_peak = true;
        }
      }
    }
  }

  for (size_t c = 0; c < n; ++c) {
    ComponentStats& s = st[c];
    if (!s.has_peak) s.peak_value = 0;
    const Vec3& v = vsum[c];
    const double norm = std::sqrt(v.x * v.x + v.y * v.y + v.z * v.z);
    if (norm > 0) {
      s.centroid_lat = std::asin(std::clamp(v.z / norm, -1.0, 1.0)) / geo::kDegToRad;
      s.centroid_lon = std::hypot(v.x, v.y) > 1e-12 * norm ? wrap360(std::atan2(v.y, v.x) / geo::kDegToRad) : 0.0;
    }
    // Longitude extent: on a periodic grid the box is the circle minus its largest empty gap.
    const auto& cols = columns[c];
    if (cols.empty()) continue;
    int64_t first = -1, last = -1;
    for (int64_t j = 0; j < W; ++j)
      if (cols[size_t(j)]) {
        if (first < 0) first = j;
        last = j;
      }
    s.lon_west = grid.lon[size_t(first)];
    s.lon_east = grid.lon[size_t(last)];
    if (grid.periodic) {
      int64_t best_gap = W - 1 - last + first, gap_end = first;  // the gap across the seam
      int64_t run = 0;
      for (int64_t j = first; j <= last; ++j) {
        if (!cols[size_t(j)]) {
          ++run;
          continue;
        }
        if (run > best_gap) {
          best_gap = run;
          gap_end = j;
        }
        run = 0;
      }
      if (gap_end != first) {  // the largest gap is inside [first, last]: the box crosses the seam
        s.lon_west = grid.lon[size_t(gap_end)];
        s.lon_east = grid.lon[size_t(gap_end - best_gap - 1)];
      }
    }
  }

  if (options.length) {
    // Length: the largest great-circle distance between two boundary cells (a cell with a 4-neighbour
    // outside the component), by the smallest dot product of unit vectors. Components with more
    // than kMaxBoundary boundary cells are subsampled evenly along their boundary list, which
    // shortens the length by at most a few cells.
    constexpr size_t kMaxBoundary = 3000;
    std::vector<std::vector<Vec3>> boundary(n);
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        const int32_t id = labels.labels[size_t(i * W + j)];
        if (id <= 0) continue;
        auto same = [&](int64_t ii, int64_t jj) {
          if (ii < 0 || ii >= H) return false;
          if (jj < 0 || jj >= W) {
            if (!grid.periodic) return false;
            jj = (jj + W) % W;
          }
          return labels.labels[size_t(ii * W + jj)] == id;
        };
        if (same(i - 1, j) && same(i + 1, j) && same(i, j - 1) && same(i, j + 1)) continue;
        boundary[size_t(id - 1)].push_back(unit(grid.lat[size_t(i)], grid.lon[size_t(j)]));
      }
#pragma omp parallel for schedule(dynamic)
    for (size_t c = 0; c < n; ++c) {
      std::vector<Vec3>& b = boundary[c];
      if (b.size() > kMaxBoundary) {
        const size_t stride = (b.size() + kMaxBoundary - 1) / kMaxBoundary;
        size_t k = 0;
        for (size_t r = 0; r < b.size(); r += stride) b[k++] = b[r];
        b.resize(k);
      }
      double min_dot = 1.0;
      for (size_t p = 0; p < b.size(); ++p)
        for (size_t q = p + 1; q < b.size(); ++q)
          min_dot = std::min(min_dot, b[p].x * b[q].x + b[p].y * b[q].y + b[p].z * b[q].z);
      st[c].length_km = std::acos(std::clamp(min_dot, -1.0, 1.0)) * geo::kEarthRadius * 1e-3;
      st[c].width_km = st[c].length_km > 0 ? st[c].area_km2 / st[c].length_km : 0.0;
    }
  }
  return st;
}

void filter_components(ComponentLabels& labels, const std::vector<bool>& keep) {
  if (keep.size() != size_t(labels.count) + 1)
    fail("filter_components: keep has {} entries for {} components", keep.size(), labels.count);
  std::vector<int32_t> remap(keep.size(), 0);
  int32_t next = 0;
  for (size_t c = 1; c < keep.size(); ++c)
    if (keep[c]) remap[c] = ++next;
  for (auto& l : labels.labels) l = remap[size_t(l)];
  labels.count = next;
}

int32_t largest_component(const std::vector<ComponentStats>& stats) {
  int32_t best = 0;
  double area = -1;
  for (const auto& s : stats)
    if (s.area_km2 > area) {
      area = s.area_km2;
      best = s.id;
    }
  return best;
}

}  // namespace climseg::analysis
