// Normalization statistics of an archive's channels: count, mean, std, min, max (and optional
// percentiles) in one pass, merged across samples and MPI ranks with Chan et al.'s pairwise update;
// the stats JSON file written by `climseg stats` and read by training and prediction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/mpi.hpp"
#include "readers/sample.hpp"

namespace climseg::io {

struct ChannelStat {
  std::string name, units;
  int64_t count = 0;  // valid values
  double mean = 0.0;
  double std = 0.0;  // population standard deviation (ddof = 0)
  double min = 0.0, max = 0.0;
  std::vector<std::pair<double, double>> percentiles;  // (p in [0, 100], value), p ascending
};

// The contents of a stats file.
struct ChannelStats {
  std::vector<ChannelStat> channels;
  bool area_weighted = false;                            // mean/std/percentiles weighted by cell area (cos latitude)
  int64_t samples = 0;                                   // samples that contributed
  nlohmann::json provenance = nlohmann::json::object();  // inputs, command, climseg version

  int index(const std::string& name) const;  // -1 when absent
  // Throws Error naming the missing channel and those present.
  const ChannelStat& at(const std::string& name) const;
  // Means and standard deviations of `names` in that order (for normalizing a sample).
  std::pair<std::vector<float>, std::vector<float>> mean_std(const std::vector<std::string>& names) const;
};

nlohmann::json to_json(const ChannelStats& stats);
// Reads climseg's format ({"format": "climseg-stats", "channels": [...]}) and, for interoperability,
// ClimateNet's ({"TMQ": {"mean": m, "std": s}, ...}). `source` names the origin in error messages.
ChannelStats stats_from_json(const nlohmann::json& j, const std::string& source);
// Throws Error (one line naming the file) when the file is missing or malformed.
ChannelStats load_stats(const std::filesystem::path& path);
// Written atomically (temporary name, fsync, rename).
void save_stats(const std::filesystem::path& path, const ChannelStats& stats);

// Running moments of one channel: weight W = Σw, mean, M2 = Σw(x - mean)², count, min, max.
struct Moments {
  int64_t count = 0;
  double weight = 0.0, mean = 0.0, m2 = 0.0;
  double min = INFINITY, max = -INFINITY;
  // Chan, Golub & LeVeque (1979) pairwise merge; exact for any split of the data.
  void merge(const Moments& b);
};

// Accumulates moments over samples; one pass over each sample's valid values.
class StatsAccumulator {
 public:
  // `row_weights` (H): per-row weights for area-weighted statistics (e.g. Grid::row_cos_lat()),
  // empty for unweighted.
  StatsAccumulator(std::vector<std::string> names, std::vector<std::string> units,
                   std::vector<double> row_weights = {});
  void add(const Sample& s);
  void merge(const StatsAccumulator& other);
  // Every rank ends with the merge of all ranks' moments, merged in rank order (deterministic).
  void allreduce(const Comm& comm);
  const std::vector<Moments>& moments() const { return moments_; }
  int64_t samples() const { return samples_; }
  ChannelStats result() const;

 private:
  std::vector<std::string> names_, units_;
  std::vector<double> row_weights_;
  std::vector<Moments> moments_;
  int64_t samples_ = 0;
};

// Percentiles from a second pass: a histogram of `bins` bins between each channel's min and max
// (exact merge across ranks: the counts are summed). The error is at most (max - min) / bins.
class PercentileAccumulator {
 public:
  PercentileAccumulator(const std::vector<Moments>& moments, std::vector<double> row_weights = {}, int bins = 1 << 16);
  void add(const Sample& s);
  void allreduce(const Comm& comm);
  // Values of percentiles p (in [0, 100]) for channel c, by linear interpolation inside a bin.
  std::vector<double> values(int64_t c, const std::vector<double>& p) const;

 private:
  std::vector<double> lo_, hi_;
  std::vector<double> row_weights_;
  int bins_;
  std::vector<double> hist_;  // (C, bins) weights
};

// Parses "1,50,99" (each in [0, 100]); throws UsageError.
std::vector<double> parse_percentiles(const std::string& list);

}  // namespace climseg::io
