// Event statistics: counts, histograms and genesis densities.
#include "analysis/summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "analysis/plot.hpp"
#include "core/error.hpp"
#include "geo/grid.hpp"

namespace climseg::analysis {

void SummaryParams::validate() const {
  for (const auto* edges : {&lifetime_edges_days, &speed_edges_m_s}) {
    if (edges->size() < 2) fail_usage("event summary: a histogram needs at least two bin edges");
    for (size_t k = 1; k < edges->size(); ++k)
      if (!((*edges)[k] > (*edges)[k - 1])) fail_usage("event summary: histogram edges must increase");
  }
  if (!(genesis_cell_deg > 0) || genesis_cell_deg > 90)
    fail_usage("--genesis-cell {}: must be in (0, 90] degrees", genesis_cell_deg);
}

EventSummary::EventSummary(SummaryParams params) : params_(std::move(params)) {
  params_.validate();
  nlat_ = int64_t(std::ceil(180.0 / params_.genesis_cell_deg - 1e-9));
  nlon_ = int64_t(std::ceil(360.0 / params_.genesis_cell_deg - 1e-9));
}

int64_t EventSummary::bin(const std::vector<double>& edges, double v) {
  if (v < edges.front()) return 0;
  // Bins [e_k, e_k+1); the last bin holds everything from the last edge up.
  const auto it = std::upper_bound(edges.begin(), edges.end(), v);
  return std::min<int64_t>(int64_t(it - edges.begin()) - 1, int64_t(edges.size()) - 1);
}

std::string EventSummary::class_name(uint8_t c) const {
  return c < params_.class_names.size() ? params_.class_names[c] : fmt::format("class{}", int(c));
}

void EventSummary::add(const Event& e) {
  if (e.points.empty()) return;
  PerClass& pc = classes_[e.cls];
  if (pc.lifetime_hist.empty()) {
    pc.lifetime_hist.assign(params_.lifetime_edges_days.size(), 0);
    pc.speed_hist.assign(params_.speed_edges_m_s.size(), 0);
    pc.genesis.assign(size_t(nlat_ * nlon_), 0);
  }
  ++pc.events;
  const std::string& iso = e.points.front().time_iso;
  const std::string year =
      iso.size() >= 4 && std::all_of(iso.begin(), iso.begin() + 4, ::isdigit) ? iso.substr(0, 4) : "unknown";
  ++pc.per_year[year];
  pc.lifetime_hist[size_t(bin(params_.lifetime_edges_days, e.lifetime_days()))] += 1;
  pc.speed_hist[size_t(bin(params_.speed_edges_m_s, e.mean_speed_m_s()))] += 1;
  pc.lifetime_sum += e.lifetime_days();
  pc.speed_sum += e.mean_speed_m_s();
  pc.area_sum += e.max_area_km2();
  const double lat = e.points.front().lat, lon = std::fmod(e.points.front().lon + 360.0, 360.0);
  const int64_t i = std::clamp<int64_t>(int64_t((lat + 90.0) / params_.genesis_cell_deg), 0, nlat_ - 1);
  const int64_t j = std::clamp<int64_t>(int64_t(lon / params_.genesis_cell_deg), 0, nlon_ - 1);
  pc.genesis[size_t(i * nlon_ + j)] += 1;
}

std::vector<double> EventSummary::genesis_lat() const {
  std::vector<double> v(static_cast<size_t>(nlat_));
  for (int64_t i = 0; i < nlat_; ++i)
    v[size_t(i)] = std::min(90.0, -90.0 + (double(i) + 0.5) * params_.genesis_cell_deg);
  return v;
}

std::vector<double> EventSummary::genesis_lon() const {
  std::vector<double> v(static_cast<size_t>(nlon_));
  for (int64_t j = 0; j < nlon_; ++j) v[size_t(j)] = (double(j) + 0.5) * params_.genesis_cell_deg;
  return v;
}

std::vector<double> EventSummary::genesis_density(uint8_t cls) const {
  std::vector<double> out(size_t(nlat_ * nlon_), 0.0);
  auto it = classes_.find(cls);
  if (it == classes_.end()) return out;
  const double c = params_.genesis_cell_deg, R = geo::kEarthRadius * 1e-3;
  for (int64_t i = 0; i < nlat_; ++i) {
    const double s = -90.0 + double(i) * c, n = std::min(90.0, s + c);
    const double area = R * R * c * geo::kDegToRad * (std::sin(n * geo::kDegToRad) - std::sin(s * geo::kDegToRad));
    for (int64_t j = 0; j < nlon_; ++j)
      out[size_t(i * nlon_ + j)] = double(it->second.genesis[size_t(i * nlon_ + j)]) / area * 1e6;
  }
  return out;
}

nlohmann::json EventSummary::to_json() const {
  nlohmann::json j;
  j["lifetime_edges_days"] = params_.lifetime_edges_days;
  j["speed_edges_m_s"] = params_.speed_edges_m_s;
  j["genesis_cell_deg"] = params_.genesis_cell_deg;
  nlohmann::json cls = nlohmann::json::object();
  for (const auto& [c, pc] : classes_) {
    nlohmann::json o;
    o["class"] = int(c);
    o["events"] = pc.events;
    o["per_year"] = pc.per_year;
    o["lifetime_histogram"] = pc.lifetime_hist;
    o["speed_histogram"] = pc.speed_hist;
    o["mean_lifetime_days"] = pc.events ? pc.lifetime_sum / double(pc.events) : 0.0;
    o["mean_speed_m_s"] = pc.events ? pc.speed_sum / double(pc.events) : 0.0;
    o["mean_max_area_km2"] = pc.events ? pc.area_sum / double(pc.events) : 0.0;
    // Genesis cells with events, as [lat_centre, lon_centre, count] (the full map is in the NetCDF).
    nlohmann::json cells = nlohmann::json::array();
    const auto la = genesis_lat(), lo = genesis_lon();
    for (int64_t i = 0; i < nlat_; ++i)
      for (int64_t k = 0; k < nlon_; ++k)
        if (const int64_t n = pc.genesis[size_t(i * nlon_ + k)]; n > 0)
          cells.push_back({la[size_t(i)], lo[size_t(k)], n});
    o["genesis_cells"] = cells;
    cls[class_name(c)] = o;
  }
  j["classes"] = cls;
  return j;
}

int write_summary_pictures(const nlohmann::json& j, const std::filesystem::path& dir) {
  int count = 0;
  if (!j.contains("classes")) fail("summary JSON has no 'classes'");
  const auto life_edges = j.at("lifetime_edges_days").get<std::vector<double>>();
  const auto speed_edges = j.at("speed_edges_m_s").get<std::vector<double>>();
  const double cell = j.at("genesis_cell_deg").get<double>();
  for (const auto& [name, c] : j.at("classes").items()) {
    plot::render_histogram(fmt::format("{}: lifetime ({} events)", name, c.at("events").get<int64_t>()),
                           "lifetime (days)", life_edges, c.at("lifetime_histogram").get<std::vector<int64_t>>(),
                           "events per day of lifetime")
        .write_png(dir / fmt::format("lifetime_{}.png", name));
    plot::render_histogram(fmt::format("{}: mean speed", name), "mean speed (m s⁻¹)", speed_edges,
                           c.at("speed_histogram").get<std::vector<int64_t>>(), "events per m s⁻¹")
        .write_png(dir / fmt::format("speed_{}.png", name));
    // Genesis counts on a regular grid of `cell` degrees.
    geo::Grid g;
    const int64_t nlat = int64_t(std::ceil(180.0 / cell - 1e-9)), nlon = int64_t(std::ceil(360.0 / cell - 1e-9));
    for (int64_t i = 0; i < nlat; ++i) g.lat.push_back(-90.0 + (double(i) + 0.5) * cell);
    for (int64_t k = 0; k < nlon; ++k) g.lon.push_back((double(k) + 0.5) * cell);
    g.periodic = true;
    std::vector<float> counts(size_t(nlat * nlon), 0.0f);
    for (const auto& cellv : c.at("genesis_cells")) {
      const int64_t i = std::clamp<int64_t>(int64_t((cellv[0].get<double>() + 90.0) / cell), 0, nlat - 1);
      const int64_t k = std::clamp<int64_t>(int64_t(cellv[1].get<double>() / cell), 0, nlon - 1);
      counts[size_t(i * nlon + k)] = float(cellv[2].get<double>());
    }
    plot::MapSpec spec;
    spec.title = fmt::format("{}: genesis ({}° cells)", name, cell);
    spec.units = "events per cell";
    spec.vmin = 0;
    spec.vmax = std::max(1.0f, *std::max_element(counts.begin(), counts.end()));
    spec.map_width = 1080;
    spec.lon0 = 0.5 * cell;
    plot::render_map(g, counts, {}, {}, {}, spec).write_png(dir / fmt::format("genesis_{}.png", name));
    count += 3;
  }
  return count;
}

}  // namespace climseg::analysis
