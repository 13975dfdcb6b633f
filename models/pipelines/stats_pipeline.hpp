// `climseg stats` as a library: per-channel count, mean, std, min, max (and percentiles) of an
// archive, MPI-parallel over samples, and per-cell percentile maps over time.
//
// For callers in memory (the Python module): io::StatsAccumulator and io::PercentileAccumulator
// (readers/stats.hpp) take samples directly, and analysis::linear_percentiles
// (analysis/percentiles.hpp) is the per-cell percentile; run_stats reads an archive.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/mpi.hpp"
#include "models/pipelines/pipeline.hpp"
#include "readers/archive.hpp"
#include "readers/stats.hpp"

namespace climseg::pipelines {

struct StatsConfig {
  std::vector<std::string> in;         // files, directories, globs or @lists
  std::string vars;                    // channel specs, comma-separated; empty: every 2-D field
  std::string out;                     // the statistics JSON ("-": none written, the report holds it)
  std::vector<double> percentiles;     // archive-wide percentiles (a second pass), ascending
  std::vector<double> percentile_map;  // per-cell percentiles over time (needs out_map)
  std::string out_map;                 // NetCDF file of the percentile map
  double map_memory_mb = 4096;         // the map holds every value in memory: refuse above this
  bool area_weighted = false;
  io::FillPolicy fill = io::FillPolicy::mask;  // a channel entirely fill values: mask, skip, error

  nlohmann::json to_json() const;
  // UsageError naming the key (and, for the flags, the flag) on a bad value.
  static StatsConfig from_json(const nlohmann::json& j);
  // Today's flags (--in, --vars, --percentiles, ...), each setting one key.
  static const std::vector<config::Alias>& cli_aliases();
};

struct StatsReport {
  io::ChannelStats stats;
  nlohmann::json json;               // the statistics file's contents (with "config": the whole config)
  std::vector<std::string> written;  // files written (rank 0)
};

// Reads the archive, writes cfg.out (unless "-") and cfg.out_map together at the end (or neither,
// on an error). Every rank returns the report.
StatsReport run_stats(const StatsConfig& cfg, const Comm& comm, const RunOptions& options = {});

// The same statistics on samples in memory (Python's climseg.stats), in run_stats' two passes:
// add() every sample, then, for percentiles, add_percentiles() every sample again; json() is the
// statistics file's channels (io::to_json) without provenance or config.
class StepsStats {
 public:
  StepsStats(std::vector<std::string> names, std::vector<std::string> units, const geo::Grid& grid, bool area_weighted,
             std::vector<double> percentiles);
  void add(const io::Sample& s) { acc_.add(s); }
  bool wants_percentiles() const { return !pct_.empty(); }
  void add_percentiles(const io::Sample& s);
  nlohmann::json json();

 private:
  std::vector<double> weights_, pct_;
  io::StatsAccumulator acc_;
  std::unique_ptr<io::PercentileAccumulator> pc_;
};

}  // namespace climseg::pipelines
