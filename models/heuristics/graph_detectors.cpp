// Cyclone candidates (DetectNodes semantics) and rivers on unstructured grids.
#include "models/heuristics/graph_detectors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>

#include "analysis/graph_components.hpp"
#include "core/error.hpp"
#include "geo/grid.hpp"

namespace climseg::heuristics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Scratch of one thread for searches over the graph: a per-column stamp and value, reset by stamp.
struct Scratch {
  std::vector<uint32_t> stamp;
  std::vector<double> best;
  std::vector<int32_t> queue;
  uint32_t now = 0;
  void begin(int64_t n) {
    if (int64_t(stamp.size()) != n) {
      stamp.assign(size_t(n), 0);
      best.assign(size_t(n), 0.0);
      now = 0;
    }
    if (++now == 0) {  // wrapped: clear once every 2^32 searches
      std::fill(stamp.begin(), stamp.end(), 0);
      now = 1;
    }
  }
  bool seen(int32_t i) const { return stamp[size_t(i)] == now; }
  void mark(int32_t i) { stamp[size_t(i)] = now; }
};
thread_local Scratch scratch;

// Visits the columns within radius (cosine of it: cos_r) of column `origin` that are connected to it
// through such columns, origin first.
template <class Fn>
void for_within(const geo::UnstructuredGrid& g, int64_t origin, double cos_r, Fn fn) {
  Scratch& s = scratch;
  s.begin(g.size());
  s.queue.assign(1, int32_t(origin));
  s.mark(int32_t(origin));
  const geo::Vec3 o = g.xyz[size_t(origin)];
  for (size_t h = 0; h < s.queue.size(); ++h) {
    const int32_t i = s.queue[h];
    fn(i);
    for (int32_t m : g.neighbours_of(i)) {
      if (s.seen(m)) continue;
      s.mark(m);
      if (geo::dot(o, g.xyz[size_t(m)]) >= cos_r) s.queue.push_back(m);
    }
  }
}

void check(const geo::UnstructuredGrid& g, std::span<const float> f, const char* name, bool optional) {
  if (f.empty() && optional) return;
  if (int64_t(f.size()) != g.size())
    fail("cyclone detection: the {} field has {} values but the grid has {} columns", name, f.size(), g.size());
}

}  // namespace

void GraphTcParams::validate() const {
  tc.validate();
  if (!(merge_distance_deg >= 0) || !(merge_distance_deg < 180))
    fail_usage("cyclone detector: merge_distance_deg must be in [0, 180), got {}", merge_distance_deg);
  if (!(wind_radius_deg > 0) || !(wind_radius_deg < 180))
    fail_usage("cyclone detector: wind_radius_deg must be in (0, 180), got {}", wind_radius_deg);
}

double closed_contour(const geo::UnstructuredGrid& g, std::span<const float> f, int64_t start, double radius_deg,
                      bool falling, double minmax_radius_deg) {
  auto value = [&](int32_t i) {
    const double v = f[size_t(i)];
    if (std::isnan(v)) return -kInf;  // missing: passable, never part of a contour
    return falling ? -v : v;
  };
  int64_t origin = start;
  if (minmax_radius_deg > 0) {
    double lowest = value(int32_t(start));
    for_within(g, start, std::cos(minmax_radius_deg * geo::kDegToRad), [&](int32_t i) {
      const double v = value(i);
      if (v < lowest && v > -kInf) lowest = v, origin = i;
    });
  }
  const double ref = value(int32_t(origin));
  if (!(ref > -kInf)) return -kInf;
  // Bottleneck search: the lowest "highest value on the path" at which a path leaves the radius.
  const double cos_r = std::cos(radius_deg * geo::kDegToRad);
  const geo::Vec3 o = g.xyz[size_t(origin)];
  Scratch& s = scratch;
  s.begin(g.size());
  using Item = std::pair<double, int32_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap;
  s.mark(int32_t(origin));
  s.best[size_t(origin)] = ref;
  heap.push({ref, int32_t(origin)});
  while (!heap.empty()) {
    const auto [b, i] = heap.top();
    heap.pop();
    if (b > s.best[size_t(i)]) continue;
    for (int32_t m : g.neighbours_of(i)) {
      if (geo::dot(o, g.xyz[size_t(m)]) < cos_r) return b - ref;  // out of the radius through i
      const double nb = std::max(b, value(m));
      if (!s.seen(m) || nb < s.best[size_t(m)]) {
        s.mark(m);
        s.best[size_t(m)] = nb;
        heap.push({nb, m});
      }
    }
  }
  return kInf;
}

std::vector<TcCandidate> detect_tc_candidates(const geo::UnstructuredGrid& g, const GraphTcFields& f,
                                              const GraphTcParams& p, int64_t step, double time_days) {
  p.validate();
  check(g, f.psl, "sea-level pressure", false);
  check(g, f.wind, "wind speed", false);
  check(g, f.warm_core, "warm-core temperature", true);
  check(g, f.thickness, "thickness", true);
  const int64_t n = g.size();
  const TcParams& tc = p.tc;

  // 1. Local minima of PSL over the neighbours (ties to the lower index), inside the band.
  std::vector<int64_t> minima;
  for (int64_t i = 0; i < n; ++i) {
    const float v = f.psl[size_t(i)];
    if (!std::isfinite(v) || v < tc.min_psl_pa) continue;
    if (g.lat[size_t(i)] < tc.lat_min || g.lat[size_t(i)] > tc.lat_max) continue;
    bool lowest = true;
    for (int32_t m : g.neighbours_of(i)) {
      const float o = f.psl[size_t(m)];
      if (o < v || (o == v && m < i)) {
        lowest = false;
        break;
      }
    }
    if (lowest) minima.push_back(i);
  }
  // 2. Merge: of minima closer than the merge distance, the lowest.
  std::sort(minima.begin(), minima.end(), [&](int64_t a, int64_t b) {
    return f.psl[size_t(a)] != f.psl[size_t(b)] ? f.psl[size_t(a)] < f.psl[size_t(b)] : a < b;
  });
  const double cos_merge = std::cos(p.merge_distance_deg * geo::kDegToRad);
  std::vector<int64_t> kept;
  for (int64_t i : minima) {
    bool near = false;
    if (p.merge_distance_deg > 0)
      for (int64_t k : kept) near = near || geo::dot(g.xyz[size_t(i)], g.xyz[size_t(k)]) >= cos_merge;
    if (!near) kept.push_back(i);
  }
  // 3. Closed pressure rise, then wind, warm core and thickness.
  std::vector<TcCandidate> found(kept.size());
  std::vector<char> pass(kept.size(), 0);
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t k = 0; k < kept.size(); ++k) {
    const int64_t i = kept[k];
    const double dp = closed_contour(g, f.psl, i, tc.pressure_delta_radius_deg, false);
    if (!(dp >= tc.min_pressure_delta_pa)) continue;
    TcCandidate c;
    c.step = step;
    c.time_days = time_days;
    c.lat = c.vort_lat = g.lat[size_t(i)];
    c.lon = c.vort_lon = g.lon[size_t(i)];
    c.psl_min = f.psl[size_t(i)];
    c.pressure_delta = dp;
    double wmax = 0;
    for_within(g, i, std::cos(p.wind_radius_deg * geo::kDegToRad), [&](int32_t j) {
      const float w = f.wind[size_t(j)];
      if (std::isfinite(w)) wmax = std::max(wmax, double(w));
    });
    c.wind_max = wmax;
    if (!f.warm_core.empty()) {
      c.warm_core_delta = closed_contour(g, f.warm_core, i, tc.core_temp_radius_deg, true, tc.max_core_radius_deg);
      c.warm_core = c.warm_core_delta >= tc.min_core_temp_delta_k;
    }
    if (!f.thickness.empty()) {
      c.thickness_delta = closed_contour(g, f.thickness, i, tc.thickness_radius_deg, true, tc.max_core_radius_deg);
      c.thickness = c.thickness_delta >= tc.min_thickness_delta_m;
    }
    found[k] = c;
    pass[k] = 1;
  }
  std::vector<TcCandidate> out;
  for (size_t k = 0; k < kept.size(); ++k)
    if (pass[k]) out.push_back(found[k]);
  std::sort(out.begin(), out.end(),
            [](const TcCandidate& a, const TcCandidate& b) { return a.lat != b.lat ? a.lat < b.lat : a.lon < b.lon; });
  return out;
}

namespace {

template <class Keep>
ArResult finish(const geo::UnstructuredGrid& g, const std::vector<uint8_t>& above, std::span<const float> field,
                Keep keep) {
  ArResult r;
  auto labels = analysis::label_components(g, above);
  auto stats = analysis::component_stats(g, labels, {.field = field});
  std::vector<bool> pass(size_t(labels.count) + 1, false);
  for (const auto& s : stats) {
    ArObject o{s, keep(s)};
    pass[size_t(s.id)] = o.kept;
    r.objects.push_back(o);
  }
  r.mask.assign(above.size(), 0);
  for (size_t k = 0; k < above.size(); ++k) r.mask[k] = pass[size_t(labels.labels[k])] ? 1 : 0;
  return r;
}

double damping(double lat, double sigma) {
  return sigma > 0 ? 1.0 - std::exp(-lat * lat / (2.0 * sigma * sigma)) : 1.0;
}

}  // namespace

ArResult detect_ar_ivt(const geo::UnstructuredGrid& g, std::span<const float> ivt, const IvtArParams& p) {
  p.validate();
  const size_t n = size_t(g.size());
  if (ivt.size() != n) fail("river detector: IVT has {} values, the grid has {} columns", ivt.size(), n);
  if (!p.threshold_field.empty() && p.threshold_field.size() != n)
    fail("river detector: the IVT threshold field has {} values, the grid has {} columns", p.threshold_field.size(), n);
  std::vector<uint8_t> above(n);
  for (size_t k = 0; k < n; ++k)
    above[k] = ivt[k] * damping(g.lat[k], p.tropics_sigma_deg) >=
               (p.threshold_field.empty() ? p.threshold : double(p.threshold_field[k]));
  return finish(g, above, ivt, [&](const analysis::ComponentStats& s) {
    return s.area_km2 >= p.min_area_km2 && s.length_km >= p.min_length_km && s.length_km >= p.min_aspect * s.width_km &&
           std::abs(s.centroid_lat) >= p.min_abs_centroid_lat;
  });
}

ArResult detect_ar_tmq(const geo::UnstructuredGrid& g, std::span<const float> tmq, const TmqArParams& p) {
  p.validate();
  const size_t n = size_t(g.size());
  if (tmq.size() != n) fail("river detector: TMQ has {} values, the grid has {} columns", tmq.size(), n);
  std::vector<uint8_t> above(n);
  for (size_t k = 0; k < n; ++k) above[k] = tmq[k] * damping(g.lat[k], p.sigma_deg) >= p.threshold;
  return finish(g, above, tmq, [&](const analysis::ComponentStats& s) {
    return s.length_km >= p.min_length_km && s.area_km2 / std::max(1e-9, s.length_km) < p.max_area_per_length_km;
  });
}

void tc_mask(const geo::UnstructuredGrid& g, const TcMaskFields& f, const std::vector<geo::LatLon>& centres,
             const TcMaskParams& p, std::span<uint8_t> out, uint8_t value) {
  p.validate();
  const int64_t n = g.size();
  const std::span<const float> fields[3] = {f.tmq, f.wind, f.precip};
  bool any = false;
  for (const auto& x : fields) {
    if (x.empty()) continue;
    any = true;
    if (int64_t(x.size()) != n) fail("cyclone mask: a field has {} values, the grid has {} columns", x.size(), n);
  }
  if (!any) fail("cyclone mask: none of TMQ, wind speed and precipitation is available");
  if (int64_t(out.size()) != n) fail("cyclone mask: the output has {} values, the grid has {} columns", out.size(), n);
  const double spacing = g.mean_spacing_deg();
  for (const geo::LatLon& c : centres) {
    // The column at the centre: the nearest one, by a walk in the triangulation.
    const geo::Vec3 cv = geo::unit_vector(c.lat, c.lon);
    const int32_t tri = geo::locate(g.triangulation, g.snapped, geo::snap(cv), 0);
    if (tri < 0) continue;
    int32_t centre = g.triangulation.triangles[size_t(tri)][0];
    for (int32_t v : g.triangulation.triangles[size_t(tri)])
      if (geo::dot(cv, g.xyz[size_t(v)]) > geo::dot(cv, g.xyz[size_t(centre)])) centre = v;
    // Storm radius: mean distance of the first sub-gale columns beyond gale ones, in the search disc.
    double radius = 0;
    if (!f.wind.empty()) {
      double sum = 0;
      int64_t count = 0;
      for_within(g, centre, std::cos(p.max_half_box_deg * geo::kDegToRad), [&](int32_t i) {
        if (!(f.wind[size_t(i)] < p.gale_wind)) return;
        for (int32_t m : g.neighbours_of(i))
          if (f.wind[size_t(m)] >= p.gale_wind &&
              geo::dot(cv, g.xyz[size_t(m)]) > geo::dot(cv, g.xyz[size_t(i)])) {  // a gale column inside it
            sum += geo::angle_between(cv, g.xyz[size_t(i)]) / geo::kDegToRad;
            ++count;
            break;
          }
      });
      radius = count ? sum / double(count) : 0.0;
    }
    const double half = std::clamp(p.radius_scale * radius + p.box_pad_deg, p.min_half_box_deg, p.max_half_box_deg);
    std::vector<int32_t> disc;
    for_within(g, centre, std::cos(half * geo::kDegToRad), [&](int32_t i) { disc.push_back(i); });
    if (disc.size() < 4) continue;
    // Components restricted to the disc: a local index per disc column.
    std::vector<int32_t> local(size_t(n), -1);  // (columns) -> disc index; cleared below
    for (size_t k = 0; k < disc.size(); ++k) local[size_t(disc[k])] = int32_t(k);
    auto pieces = [&](const std::vector<uint8_t>& mask, std::vector<int32_t>& label) {
      label.assign(disc.size(), 0);
      int32_t count = 0;
      std::vector<int32_t> stack;
      for (size_t s = 0; s < disc.size(); ++s) {
        if (!mask[s] || label[s]) continue;
        label[s] = ++count;
        stack.assign(1, int32_t(s));
        while (!stack.empty()) {
          const int32_t k = stack.back();
          stack.pop_back();
          for (int32_t m : g.neighbours_of(disc[size_t(k)])) {
            const int32_t q = local[size_t(m)];
            if (q >= 0 && mask[size_t(q)] && !label[size_t(q)]) {
              label[size_t(q)] = count;
              stack.push_back(q);
            }
          }
        }
      }
      return count;
    };
    auto areas = [&](const std::vector<int32_t>& label, int32_t count) {
      std::vector<double> a(size_t(count) + 1, 0.0);
      for (size_t k = 0; k < disc.size(); ++k) a[size_t(label[k])] += g.area_m2[size_t(disc[k])];
      a[0] = -1;
      return a;
    };
    std::vector<uint8_t> united(disc.size(), 0), binary(disc.size());
    std::vector<int32_t> label;
    std::vector<float> values;
    for (const auto& field : fields) {
      if (field.empty()) continue;
      values.clear();
      for (int32_t i : disc)
        if (std::isfinite(field[size_t(i)])) values.push_back(field[size_t(i)]);
      if (values.empty()) continue;
      const double thr = percentile(values, p.percentile);
      for (size_t k = 0; k < disc.size(); ++k) binary[k] = field[size_t(disc[k])] > thr;
      const int32_t count = pieces(binary, label);
      if (count == 0) continue;
      const auto a = areas(label, count);
      const int32_t keep = int32_t(std::max_element(a.begin(), a.end()) - a.begin());
      for (size_t k = 0; k < disc.size(); ++k)
        if (label[k] == keep) united[k] = 1;
    }
    const int32_t count = pieces(united, label);
    if (count > 0) {
      const auto a = areas(label, count);
      const double core = std::cos(std::max(radius, 1.5 * spacing) * geo::kDegToRad);
      int32_t keep = 0;
      double best = -1;
      for (size_t k = 0; k < disc.size(); ++k) {
        const int32_t id = label[k];
        if (id > 0 && geo::dot(cv, g.xyz[size_t(disc[k])]) >= core && a[size_t(id)] > best) {
          best = a[size_t(id)];
          keep = id;
        }
      }
      if (keep == 0) keep = int32_t(std::max_element(a.begin(), a.end()) - a.begin());
      for (size_t k = 0; k < disc.size(); ++k)
        if (label[k] == keep) out[size_t(disc[k])] = value;
    }
  }
}

}  // namespace climseg::heuristics
