// What a search leaves for people: the table of trials (CSV and JSON lines) and pictures of the
// metric against each searched parameter and against the steps of each rung.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "models/search/plan.hpp"
#include "models/search/search.hpp"

namespace climseg::search {

// {"trial", "bracket", "status", "values": {searched keys}, "metric": {"<budget steps>": IoU or null},
//  "final_metric", "steps", "wall_s", "groups": [...], "message"}.
nlohmann::json trial_row(const Plan& plan, const Trial& t, const SearchConfig& config);
// One row per trial: trial,bracket,status,<searched keys>,metric@<budget>...,final_metric,steps,wall_s,groups,message.
std::string table_csv(const Plan& plan, const SearchConfig& config);
// One trial_row per line.
std::string table_jsonl(const Plan& plan, const SearchConfig& config);

// dir/metric_vs_<key>.png for every searched key (the metric at each trial's last rung; log axis
// for log-uniform keys, one column per choice otherwise) and dir/rungs.png (metric against steps,
// one line per trial). Returns the number of pictures written.
int write_plots(const Plan& plan, const SearchConfig& config, const std::filesystem::path& dir);

}  // namespace climseg::search
