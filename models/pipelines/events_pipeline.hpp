// `climseg events` as a library: events from any class-map archive (heuristic labels or network
// predictions): components per step on the sphere, linked over time, filtered; the tables, the
// summary (JSON and NetCDF), the event id of every cell and pictures.
//
// For callers in memory (the Python module): analysis::label_classes, describe_step, EventLinker and
// EventSummary (analysis/events.hpp, analysis/summary.hpp) take class maps as arrays; run_events
// reads an archive and writes the files.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/events.hpp"
#include "analysis/summary.hpp"
#include "core/config.hpp"
#include "core/mpi.hpp"
#include "models/pipelines/pipeline.hpp"

namespace climseg::pipelines {

enum class Peak { max, min };

struct EventsConfig {
  std::vector<std::string> in;      // class-map archive
  std::string out;                  // output directory (created)
  std::string labels_var = "auto";  // auto: LABELS, else class_mask
  std::vector<int> classes;         // classes to follow (empty: every nonzero class)
  std::string field, field_in;      // field whose peak each component reports, and its archive
  Peak peak = Peak::max;
  double min_overlap = 0.0;   // overlap (of the smaller component) that links steps
  double max_speed = 1600.0;  // km per day, distance linking
  std::vector<int> distance_classes = {1};
  double max_gap = 0.0;  // days; 0: 1.5 steps
  int64_t min_steps = 1;
  double min_lifetime = 0.0;  // days
  double min_area = 0.0;      // km2
  double genesis_cell = 5.0;  // degrees
  double step_hours = 6.0;    // between samples without a decodable time
  int64_t chunk = 16;         // steps per rank per round
  bool ids = true;            // event_ids.nc (a second pass)
  bool plots = true;          // PNG histograms and genesis maps

  nlohmann::json to_json() const;
  static EventsConfig from_json(const nlohmann::json& j);
  static const std::vector<config::Alias>& cli_aliases();
};

struct EventsReport {
  int64_t steps = 0, events_started = 0, events_kept = 0;
  nlohmann::json summary;            // events_summary.json as written (rank 0; "config": the whole config)
  std::vector<std::string> written;  // file names in `out` (rank 0)
  double seconds = 0;
};

// Every output appears at the end, together, or (on an error) not at all.
EventsReport run_events(const EventsConfig& cfg, const Comm& comm, const RunOptions& options = {});

// The same events on class maps in memory (Python's climseg.events), handed over step by step in
// time order: run_events' linking, tables and summary, without files (cfg's in, out, labels_var,
// field_in, chunk, ids and plots are not read). The tables are the text of events.csv and
// event_points.csv; event ids come back through event_id() once finish() has run.
class StepsEvents {
 public:
  StepsEvents(const EventsConfig& cfg, const geo::Grid& grid, const geo::Orientation& file);
  // Step `step` (0, 1, ... in order): `map` (H, W) on the canonical grid, class ids (values outside
  // 1..255 and non-finite ones are background; values that are not integers are refused, naming
  // `where`); `field`/`valid` (optional): the --field whose peak each component reports. Returns
  // the step's component labels (0: none, c > 0: component c).
  const analysis::ComponentLabels& add(std::span<const float> map, double day, const std::string& iso,
                                       std::span<const float> field = {}, std::span<const float> valid = {},
                                       const std::string& where = "the class map");
  void finish();
  // The event of component c (> 0) of step `step`, 0 when it was not kept.
  int64_t event_id(int64_t step, int32_t component) const;
  const std::string& events_csv() const { return events_csv_; }
  const std::string& points_csv() const { return points_csv_; }
  // events_summary.json's statistics (classes, steps, grid, events_started, events_kept, link; no
  // run key, config or outputs).
  nlohmann::json summary() const;

 private:
  void flush();
  EventsConfig cfg_;
  const geo::Grid& grid_;
  geo::Orientation file_;
  analysis::EventLinker linker_;
  analysis::EventSummary summary_;
  analysis::ClassComponents prev_, now_;
  std::vector<std::vector<int64_t>> ids_;
  std::string events_csv_, points_csv_;
  bool finished_ = false;
};

}  // namespace climseg::pipelines

template <>
struct climseg::config::EnumTable<climseg::pipelines::Peak> {
  static constexpr std::pair<const char*, pipelines::Peak> names[] = {{"max", pipelines::Peak::max},
                                                                      {"min", pipelines::Peak::min}};
};
