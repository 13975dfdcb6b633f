// Summary statistics of events: counts per class and year, lifetime and speed histograms, and
// genesis density maps; accumulated event by event so any number of events fits in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/events.hpp"

namespace climseg::analysis {

struct SummaryParams {
  std::vector<double> lifetime_edges_days = {0, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30};  // last bin open-ended
  std::vector<double> speed_edges_m_s = {0, 1, 2, 3, 4, 5, 7, 10, 15, 20};            // last bin open-ended
  double genesis_cell_deg = 5.0;         // genesis density on a regular grid of this spacing
  std::vector<std::string> class_names;  // index = class value
  void validate() const;
};

class EventSummary {
 public:
  explicit EventSummary(SummaryParams params);
  void add(const Event& e);

  struct PerClass {
    int64_t events = 0;
    std::map<std::string, int64_t> per_year;  // genesis year ("unknown" without a date)
    std::vector<int64_t> lifetime_hist, speed_hist;
    std::vector<int64_t> genesis;  // (nlat, nlon) counts, south to north, from 0°E
    double lifetime_sum = 0, speed_sum = 0, area_sum = 0;
  };
  const std::map<uint8_t, PerClass>& classes() const { return classes_; }
  const SummaryParams& params() const { return params_; }
  int64_t genesis_rows() const { return nlat_; }
  int64_t genesis_cols() const { return nlon_; }
  // Cell centres of the genesis grid (degrees).
  std::vector<double> genesis_lat() const;
  std::vector<double> genesis_lon() const;
  // Genesis count per 10^6 km² of each genesis cell (the density map), (nlat, nlon).
  std::vector<double> genesis_density(uint8_t cls) const;

  nlohmann::json to_json() const;

 private:
  static int64_t bin(const std::vector<double>& edges, double v);
  std::string class_name(uint8_t c) const;
  SummaryParams params_;
  int64_t nlat_ = 0, nlon_ = 0;
  std::map<uint8_t, PerClass> classes_;
};

// Writes, for each class of a summary JSON (EventSummary::to_json), lifetime_<class>.png,
// speed_<class>.png and genesis_<class>.png into `dir`; returns how many pictures.
int write_summary_pictures(const nlohmann::json& summary, const std::filesystem::path& dir);

}  // namespace climseg::analysis
