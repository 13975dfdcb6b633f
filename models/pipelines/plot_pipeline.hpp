// `climseg plot` as a library: PNG maps of a field at chosen time steps, with class outlines from a
// label archive and tracks from label or events; or the histograms and genesis maps of an events
// summary. (In memory, analysis::plot::render_map draws one map from arrays.)
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/mpi.hpp"
#include "models/pipelines/pipeline.hpp"

namespace climseg::pipelines {

struct PlotConfig {
  std::vector<std::string> in;  // the archive to draw from
  std::string var;              // channel spec of the field
  std::string steps = "0";      // N, A:B (B excluded) or "all"
  std::string out;              // a .png file or a directory
  std::string labels;           // class-map archive to outline; "auto": LABELS of the input itself
  std::string labels_var = "auto";
  std::string tracks;                // tc_tracks.csv or event_points.csv
  std::optional<double> vmin, vmax;  // colour bar (unset: 1st and 99th percentiles)
  std::string units, title;          // empty: the variable's units; variable and time
  double lon0 = 0.0;
  int width = 0;  // 0: about 2 pixels per grid cell
  bool coastlines = true;
  std::string summary;  // events_summary.json: draw its pictures instead of maps

  nlohmann::json to_json() const;
  static PlotConfig from_json(const nlohmann::json& j);
  static const std::vector<config::Alias>& cli_aliases();
};

struct PlotReport {
  int64_t pictures = 0;              // maps drawn (all ranks together), or summary pictures
  std::vector<std::string> written;  // files written by this rank
};

PlotReport run_plot(const PlotConfig& cfg, const Comm& comm, const RunOptions& options = {});

}  // namespace climseg::pipelines
