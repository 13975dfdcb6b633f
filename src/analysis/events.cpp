// Per-step components and their linking into events over time.
#include "analysis/events.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "analysis/graph_components.hpp"
#include "core/error.hpp"

namespace climseg::analysis {

namespace {

std::string events_grid_name(const geo::Grid& g) { return g.shape_str(); }
std::string events_grid_name(const geo::UnstructuredGrid& g) { return fmt::format("of {} columns", g.size()); }

template <class G>
ClassComponents label_classes_on(const G& grid, std::span<const uint8_t> class_map,
                                 const std::vector<uint8_t>& classes) {
  const size_t n = size_t(grid.size());
  if (class_map.size() != n)
    fail("events: class map has {} cells, the grid {} has {}", class_map.size(), events_grid_name(grid), n);
  std::vector<uint8_t> which = classes;
  if (which.empty()) {
    bool present[256] = {};
    for (uint8_t c : class_map) present[c] = true;
    for (int c = 1; c < 256; ++c)
      if (present[c]) which.push_back(uint8_t(c));
  }
  ClassComponents out;
  out.labels.labels.assign(n, 0);
  std::vector<uint8_t> mask(n);
  for (uint8_t c : which) {
    if (c == 0) continue;
    bool any = false;
    for (size_t k = 0; k < n; ++k) any |= (mask[k] = class_map[k] == c) != 0;
    if (!any) continue;
    const ComponentLabels one = label_components(grid, mask);
    for (size_t k = 0; k < n; ++k)
      if (one.labels[k] > 0) out.labels.labels[k] = one.labels[k] + out.labels.count;
    out.labels.count += one.count;
    out.cls.insert(out.cls.end(), size_t(one.count), c);
  }
  return out;
}

}  // namespace

ClassComponents label_classes(const geo::Grid& grid, std::span<const uint8_t> class_map,
                              const std::vector<uint8_t>& classes) {
  return label_classes_on(grid, class_map, classes);
}

ClassComponents label_classes(const geo::UnstructuredGrid& grid, std::span<const uint8_t> class_map,
                              const std::vector<uint8_t>& classes) {
  return label_classes_on(grid, class_map, classes);
}

std::vector<StepObjects::Overlap> overlaps(const ComponentLabels& prev, const ComponentLabels& cur) {
  if (prev.labels.size() != cur.labels.size()) fail("events: consecutive steps have different grids");
  std::map<std::pair<int32_t, int32_t>, int64_t> count;
  for (size_t k = 0; k < cur.labels.size(); ++k) {
    const int32_t a = prev.labels[k], b = cur.labels[k];
    if (a > 0 && b > 0) ++count[{a, b}];
  }
  std::vector<StepObjects::Overlap> out;
  out.reserve(count.size());
  for (const auto& [key, cells] : count) out.push_back({key.first, key.second, cells});
  return out;
}

namespace {

template <class G>
StepObjects describe_step_on(const G& grid, const ClassComponents& now, const ClassComponents* prev, int64_t step,
                             double time_days, const std::string& time_iso, const StatsOptions& stats) {
  StepObjects s;
  s.step = step;
  s.time_days = time_days;
  s.time_iso = time_iso;
  s.stats = component_stats(grid, now.labels, stats);
  s.cls = now.cls;
  if (prev != nullptr) {
    s.has_prev = true;
    s.overlaps = overlaps(prev->labels, now.labels);
  }
  return s;
}

}  // namespace

StepObjects describe_step(const geo::Grid& grid, const ClassComponents& now, const ClassComponents* prev, int64_t step,
                          double time_days, const std::string& time_iso, const StatsOptions& stats) {
  return describe_step_on(grid, now, prev, step, time_days, time_iso, stats);
}

StepObjects describe_step(const geo::UnstructuredGrid& grid, const ClassComponents& now, const ClassComponents* prev,
                          int64_t step, double time_days, const std::string& time_iso, const StatsOptions& stats) {
  return describe_step_on(grid, now, prev, step, time_days, time_iso, stats);
}

// ---- serialization

std::string serialize_steps(const std::vector<StepObjects>& steps) {
  std::string out;
  for (const auto& s : steps) {
    out += fmt::format("S {} {:.17g} {} {} {} {}\n", s.step, s.time_days, s.has_prev ? 1 : 0, s.stats.size(),
                       s.overlaps.size(), s.time_iso.empty() ? "-" : s.time_iso);
    for (size_t k = 0; k < s.stats.size(); ++k) {
      const auto& c = s.stats[k];
      out += fmt::format(
          "C {} {} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {} {:.17g} {:.17g} "
          "{:.17g}\n",
          int(s.cls[k]), c.cells, c.area_km2, c.centroid_lat, c.centroid_lon, c.lat_min, c.lat_max, c.lon_west,
          c.lon_east, c.length_km, c.width_km, c.has_peak ? 1 : 0, c.peak_value, c.peak_lat, c.peak_lon);
    }
    for (const auto& o : s.overlaps) out += fmt::format("O {} {} {}\n", o.prev, o.cur, o.cells);
  }
  return out;
}

std::vector<StepObjects> deserialize_steps(const std::string& text) {
  std::istringstream in(text);
  std::vector<StepObjects> out;
  std::string tag;
  while (in >> tag) {
    if (tag != "S") fail("events: malformed step record (got '{}')", tag);
    StepObjects s;
    int has_prev = 0;
    size_t nc = 0, no = 0;
    in >> s.step >> s.time_days >> has_prev >> nc >> no >> s.time_iso;
    if (s.time_iso == "-") s.time_iso.clear();
    s.has_prev = has_prev != 0;
    for (size_t k = 0; k < nc; ++k) {
      ComponentStats c;
      int cls = 0, has_peak = 0;
      in >> tag >> cls >> c.cells >> c.area_km2 >> c.centroid_lat >> c.centroid_lon >> c.lat_min >> c.lat_max >>
          c.lon_west >> c.lon_east >> c.length_km >> c.width_km >> has_peak >> c.peak_value >> c.peak_lat >> c.peak_lon;
      if (tag != "C") fail("events: malformed component record");
      c.id = int32_t(k + 1);
      c.has_peak = has_peak != 0;
      s.stats.push_back(c);
      s.cls.push_back(uint8_t(cls));
    }
    for (size_t k = 0; k < no; ++k) {
      StepObjects::Overlap o;
      in >> tag >> o.prev >> o.cur >> o.cells;
      if (tag != "O") fail("events: malformed overlap record");
      s.overlaps.push_back(o);
    }
    if (!in) fail("events: truncated step record");
    out.push_back(std::move(s));
  }
  return out;
}

// ---- events

double Event::lifetime_days() const {
  return points.empty() ? 0.0 : points.back().time_days - points.front().time_days;
}

double Event::path_km() const {
  double d = 0;
  for (size_t k = 1; k < points.size(); ++k)
    d += geo::great_circle_m(points[k - 1].lat, points[k - 1].lon, points[k].lat, points[k].lon) * 1e-3;
  return d;
}

double Event::mean_speed_m_s() const {
  const double t = lifetime_days();
  return t > 0 ? path_km() * 1e3 / (t * 86400.0) : 0.0;
}

double Event::max_area_km2() const {
  double a = 0;
  for (const auto& p : points) a = std::max(a, p.area_km2);
  return a;
}

const TrackPoint* Event::peak_point(bool minimum) const {
  const TrackPoint* best = nullptr;
  for (const auto& p : points)
    if (p.has_peak && (best == nullptr || (minimum ? p.peak < best->peak : p.peak > best->peak))) best = &p;
  return best;
}

void LinkParams::validate() const {
  // Messages name the `climseg events` option that sets each parameter.
  if (!(min_overlap_fraction >= 0 && min_overlap_fraction < 1))
    fail_usage("--min-overlap {}: must be in [0, 1)", min_overlap_fraction);
  if (!(max_speed_km_per_day > 0)) fail_usage("--max-speed {}: must be positive", max_speed_km_per_day);
  if (!(max_gap_days >= 0)) fail_usage("--max-gap {}: must be 0 or more", max_gap_days);
  if (!(min_lifetime_days >= 0)) fail_usage("--min-lifetime {}: must be 0 or more", min_lifetime_days);
  if (!(min_area_km2 >= 0)) fail_usage("--min-area {}: must be 0 or more", min_area_km2);
  if (min_steps < 1) fail_usage("--min-steps {}: must be 1 or more", min_steps);
}

EventLinker::EventLinker(LinkParams params) : params_(std::move(params)) { params_.validate(); }

void EventLinker::end(size_t a, int64_t merged_into) {
  Event& e = active_[a].event;
  e.merged_into = merged_into;
  const bool keep = int64_t(e.points.size()) >= params_.min_steps &&
                    e.lifetime_days() + 1e-9 >= params_.min_lifetime_days && e.max_area_km2() >= params_.min_area_km2;
  if (size_t(e.id) >= kept_.size()) kept_.resize(size_t(e.id) + 1, false);
  kept_[size_t(e.id)] = keep;
  if (keep) {
    ++kept_count_;
    finished_.push_back(std::move(e));
  }
}

std::vector<int64_t> EventLinker::add(const StepObjects& s) {
  const size_t n = s.stats.size();
  if (s.cls.size() != n) fail("events: step {} has {} classes for {} components", s.step, s.cls.size(), n);
  if (have_prev_ && s.step <= prev_step_) fail("events: steps must increase (step {} after {})", s.step, prev_step_);

  // Does this step continue the previous one?
  bool continues = have_prev_ && s.has_prev && s.step == prev_step_ + 1;
  if (continues) {
    const double dt = s.time_days - prev_time_;
    if (gap_days_ == 0) gap_days_ = params_.max_gap_days > 0 ? params_.max_gap_days : 1.5 * dt;
    if (!(dt > 0) || dt > gap_days_) continues = false;
  }
  std::vector<int64_t> ids(n, -1);
  std::vector<int64_t> assigned(n, -1);  // index into active_ of the event continuing into component k
  std::vector<bool> continued(active_.size(), false);
  std::map<int32_t, size_t> by_component;  // previous component id -> active index
  if (continues)
    for (size_t a = 0; a < active_.size(); ++a) by_component[active_[a].last_component] = a;

  std::vector<int64_t> split_parent(n, 0);                // event id, 0: none
  std::vector<int64_t> merge_target(active_.size(), -1);  // active index of a component's overlap
  if (continues) {
    // 1. Overlaps, largest first: each event continues into at most one component and vice versa.
    std::vector<StepObjects::Overlap> pairs;
    for (const auto& o : s.overlaps) {
      if (o.cur < 1 || size_t(o.cur) > n) fail("events: overlap refers to component {} of {}", o.cur, n);
      auto it = by_component.find(o.prev);
      if (it == by_component.end()) continue;
      const Active& a = active_[it->second];
      if (a.event.cls != s.cls[size_t(o.cur - 1)]) continue;
      const auto pc = prev_cells_.find(o.prev);
      const int64_t cells_prev = pc == prev_cells_.end() ? 0 : pc->second;
      const int64_t cells_cur = s.stats[size_t(o.cur - 1)].cells;
      const int64_t smaller = std::max<int64_t>(1, cells_prev > 0 ? std::min(cells_prev, cells_cur) : cells_cur);
      if (o.cells <= 0 || double(o.cells) / double(smaller) < params_.min_overlap_fraction) continue;
      pairs.push_back(o);
    }
    std::stable_sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) { return x.cells > y.cells; });
    for (const auto& o : pairs) {
      const size_t a = by_component[o.prev];
      const size_t b = size_t(o.cur - 1);
      if (assigned[b] < 0 && !continued[a]) {
        assigned[b] = int64_t(a);
        continued[a] = true;
      }
    }
    for (const auto& o : pairs) {
      const size_t a = by_component[o.prev];
      const size_t b = size_t(o.cur - 1);
      if (assigned[b] < 0 && split_parent[b] == 0) split_parent[b] = active_[a].event.id;
      if (!continued[a] && merge_target[a] < 0 && assigned[b] >= 0) merge_target[a] = assigned[b];
    }
    // 2. Distance, for the distance classes, between what is still unmatched (nearest first).
    const double dt = s.time_days - prev_time_;
    struct Near {
      double d;
      size_t a, b;
    };
    std::vector<Near> near;
    for (size_t b = 0; b < n; ++b) {
      if (assigned[b] >= 0 || split_parent[b] != 0) continue;
      if (std::find(params_.distance_classes.begin(), params_.distance_classes.end(), s.cls[b]) ==
          params_.distance_classes.end())
        continue;
      for (size_t a = 0; a < active_.size(); ++a) {
        if (continued[a] || active_[a].event.cls != s.cls[b]) continue;
        const TrackPoint& tip = active_[a].event.points.back();
        const double d = geo::great_circle_m(tip.lat, tip.lon, s.stats[b].centroid_lat, s.stats[b].centroid_lon) * 1e-3;
        if (d <= params_.max_speed_km_per_day * dt) near.push_back({d, a, b});
      }
    }
    std::stable_sort(near.begin(), near.end(), [](const Near& x, const Near& y) { return x.d < y.d; });
    for (const auto& m : near)
      if (assigned[m.b] < 0 && !continued[m.a]) {
        assigned[m.b] = int64_t(m.a);
        continued[m.a] = true;
      }
  }

  // Extend the continuing events, start new ones, end the rest.
  std::vector<Active> next;
  for (size_t b = 0; b < n; ++b) {
    const ComponentStats& c = s.stats[b];
    TrackPoint p{s.step,     s.time_days, s.time_iso,   c.id,       c.centroid_lat, c.centroid_lon,
                 c.area_km2, c.has_peak,  c.peak_value, c.peak_lat, c.peak_lon};
    Active a;
    if (assigned[b] >= 0) {
      a = std::move(active_[size_t(assigned[b])]);
    } else {
      a.event.id = next_id_++;
      a.event.cls = s.cls[b];
      a.event.split_from = split_parent[b];
    }
    a.event.points.push_back(std::move(p));
    a.last_component = c.id;
    ids[b] = a.event.id;
    next.push_back(std::move(a));
  }
  for (size_t a = 0; a < active_.size(); ++a)
    if (!continued[a]) end(a, merge_target[a] >= 0 ? active_[size_t(merge_target[a])].event.id : 0);
  active_ = std::move(next);
  prev_cells_.clear();
  for (const auto& c : s.stats) prev_cells_[c.id] = c.cells;
  have_prev_ = true;
  prev_step_ = s.step;
  prev_time_ = s.time_days;
  return ids;
}

void EventLinker::finish() {
  for (size_t a = 0; a < active_.size(); ++a) end(a, 0);
  active_.clear();
  have_prev_ = false;
}

std::vector<Event> EventLinker::take_finished() {
  std::vector<Event> out = std::move(finished_);
  finished_.clear();
  std::sort(out.begin(), out.end(), [](const Event& a, const Event& b) { return a.id < b.id; });
  return out;
}

bool EventLinker::kept(int64_t id) const { return id >= 0 && size_t(id) < kept_.size() && kept_[size_t(id)]; }

// ---- tables

namespace {
std::string class_name(const std::vector<std::string>& names, uint8_t c) {
  return c < names.size() ? names[c] : fmt::format("class{}", int(c));
}
}  // namespace

std::string events_csv_header() {
  return "event_id,class,class_name,genesis_step,genesis_time,genesis_lat,genesis_lon,termination_step,"
         "termination_time,termination_lat,termination_lon,steps,lifetime_days,path_km,mean_speed_m_s,max_area_km2,"
         "peak_value,peak_time,peak_lat,peak_lon,split_from,merged_into\n";
}

std::string event_csv_row(const Event& e, const std::vector<std::string>& names, bool peak_is_minimum,
                          const geo::Orientation& file) {
  const TrackPoint& g = e.points.front();
  const TrackPoint& t = e.points.back();
  const TrackPoint* pk = e.peak_point(peak_is_minimum);
  return fmt::format(
      "{},{},{},{},{},{:.4f},{:.4f},{},{},{:.4f},{:.4f},{},{:.4f},{:.1f},{:.3f},{:.1f},{},{},{},{},{},{}\n", e.id,
      int(e.cls), class_name(names, e.cls), g.step, g.time_iso, g.lat, file.file_longitude(g.lon), t.step, t.time_iso,
      t.lat, file.file_longitude(t.lon), e.points.size(), e.lifetime_days(), e.path_km(), e.mean_speed_m_s(),
      e.max_area_km2(), pk ? fmt::format("{:.6g}", pk->peak) : "", pk ? pk->time_iso : "",
      pk ? fmt::format("{:.4f}", pk->peak_lat) : "", pk ? fmt::format("{:.4f}", file.file_longitude(pk->peak_lon)) : "",
      e.split_from, e.merged_into);
}

std::string points_csv_header() {
  return "event_id,class,step,time,component,lat,lon,area_km2,peak_value,peak_lat,peak_lon\n";
}

std::string points_csv_rows(const Event& e, const std::vector<std::string>&, const geo::Orientation& file) {
  std::string out;
  for (const auto& p : e.points)
    out +=
        fmt::format("{},{},{},{},{},{:.4f},{:.4f},{:.1f},{},{},{}\n", e.id, int(e.cls), p.step, p.time_iso, p.component,
                    p.lat, file.file_longitude(p.lon), p.area_km2, p.has_peak ? fmt::format("{:.6g}", p.peak) : "",
                    p.has_peak ? fmt::format("{:.4f}", p.peak_lat) : "",
                    p.has_peak ? fmt::format("{:.4f}", file.file_longitude(p.peak_lon)) : "");
  return out;
}

}  // namespace climseg::analysis
