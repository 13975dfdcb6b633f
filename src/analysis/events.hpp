// Events from any class map: components of each step (per class), linked across consecutive steps
// by overlap (and, for cyclones, by distance), with lifetime and size filters, streamed so that
// memory depends on the events alive at one time, not on the archive's length.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "analysis/components.hpp"
#include "geo/grid.hpp"
#include "geo/unstructured.hpp"

namespace climseg::analysis {

// The components of one step of a class map (0 background, classes 1..255 labelled separately),
// their statistics, and how they overlap the components of the previous step.
struct StepObjects {
  struct Overlap {
    int32_t prev = 0, cur = 0;  // component ids in the previous and this step
    int64_t cells = 0;
  };
  int64_t step = 0;                   // index in the archive
  double time_days = 0;               // any fixed origin
  std::string time_iso;               // for tables
  std::vector<ComponentStats> stats;  // component id k is stats[k − 1]
  std::vector<uint8_t> cls;           // class of each component (same order)
  bool has_prev = false;              // overlaps were computed against step − 1
  std::vector<Overlap> overlaps;
};

// One id image over all classes: each class's components in turn, ids consecutive (class 1's
// first). `classes` lists the class values to label (empty: every nonzero value present).
struct ClassComponents {
  ComponentLabels labels;
  std::vector<uint8_t> cls;  // class of component k + 1
};
ClassComponents label_classes(const geo::Grid& grid, std::span<const uint8_t> class_map,
                              const std::vector<uint8_t>& classes = {});
// The same on unstructured columns: components over the columns' neighbours (graph_components.hpp).
ClassComponents label_classes(const geo::UnstructuredGrid& grid, std::span<const uint8_t> class_map,
                              const std::vector<uint8_t>& classes = {});

// Cells shared by component a of `prev` and component b of `cur`, for every pair that shares any,
// sorted by (prev, cur).
std::vector<StepObjects::Overlap> overlaps(const ComponentLabels& prev, const ComponentLabels& cur);

// Describes one step; `prev` (may be null) is the previous step's labelling, for the overlaps.
StepObjects describe_step(const geo::Grid& grid, const ClassComponents& now, const ClassComponents* prev, int64_t step,
                          double time_days, const std::string& time_iso, const StatsOptions& stats);
// On unstructured columns: areas from the cells, lengths between boundary columns.
StepObjects describe_step(const geo::UnstructuredGrid& grid, const ClassComponents& now, const ClassComponents* prev,
                          int64_t step, double time_days, const std::string& time_iso, const StatsOptions& stats);

// A compact text form of steps, so ranks can send what they found to the one that links.
std::string serialize_steps(const std::vector<StepObjects>& steps);
std::vector<StepObjects> deserialize_steps(const std::string& text);

struct LinkParams {
  double min_overlap_fraction = 0.0;            // shared cells / the smaller component's cells must reach this (0: any)
  std::vector<uint8_t> distance_classes = {1};  // classes also linked by centroid distance (cyclones)
  double max_speed_km_per_day = 1600.0;         // ... within this speed
  double max_gap_days = 0.0;                    // steps further apart end every event; 0: 1.5 x the first step interval
  // Filters applied when an event ends:
  int64_t min_steps = 1;
  double min_lifetime_days = 0.0;  // last time − first time
  double min_area_km2 = 0.0;       // of the event's largest component
  void validate() const;
};

struct TrackPoint {
  int64_t step = 0;
  double time_days = 0;
  std::string time_iso;
  int32_t component = 0;
  double lat = 0, lon = 0;  // centroid
  double area_km2 = 0;
  bool has_peak = false;
  double peak = 0, peak_lat = 0, peak_lon = 0;
};

struct Event {
  int64_t id = 0;  // 1, 2, ... increasing with genesis (0 is "no event"); filtered events leave gaps
  uint8_t cls = 0;
  std::vector<TrackPoint> points;
  int64_t split_from = 0;   // the event it broke away from, or 0
  int64_t merged_into = 0;  // the event it ran into when it ended, or 0

  double lifetime_days() const;
  double path_km() const;         // great-circle length of the centroid path
  double mean_speed_m_s() const;  // path / lifetime (0 for a one-step event)
  double max_area_km2() const;
  // The point with the largest peak (smallest when minimum); null without peaks.
  const TrackPoint* peak_point(bool minimum) const;
};

// Links steps given in increasing order into events.
class EventLinker {
 public:
  explicit EventLinker(LinkParams params);
  // Returns the event id of each component of the step (before filtering).
  std::vector<int64_t> add(const StepObjects& step);
  // Ends every event still alive (at the end of the archive).
  void finish();
  // Events that ended and passed the filters since the last call, in order of id.
  std::vector<Event> take_finished();
  // Whether event id was kept by the filters (false while it is still alive). One bit per event.
  bool kept(int64_t id) const;
  int64_t events_started() const { return next_id_ - 1; }
  int64_t events_kept() const { return kept_count_; }

 private:
  void end(size_t active_index, int64_t merged_into);
  LinkParams params_;
  struct Active {
    Event event;
    int32_t last_component = 0;
  };
  std::vector<Active> active_;
  std::map<int32_t, int64_t> prev_cells_;  // cells of each component of the previous step
  std::vector<Event> finished_;
  std::vector<bool> kept_;
  int64_t next_id_ = 1;
  int64_t kept_count_ = 0;
  bool have_prev_ = false;
  int64_t prev_step_ = 0;
  double prev_time_ = 0;
  double gap_days_ = 0;
};

// CSV tables: one row per event, and one row per event and step.
std::string events_csv_header();
// Longitudes are written as the input file writes them (`file`: -180..180 or 0..360).
std::string event_csv_row(const Event& e, const std::vector<std::string>& class_names, bool peak_is_minimum,
                          const geo::Orientation& file = {});
std::string points_csv_header();
std::string points_csv_rows(const Event& e, const std::vector<std::string>& class_names,
                            const geo::Orientation& file = {});

}  // namespace climseg::analysis
