// What every pipeline shares: how a run is told to report progress, and the rerun key's options
// taken from its configuration.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace climseg::pipelines {

// How a run talks to the person watching (not part of the configuration: it changes no output).
struct RunOptions {
  bool progress = false;  // progress bars on rank 0
};

// The options of a run as its rerun key records them, keyed by the command-line flags
// ({"--min-steps": "1", "--percentiles": "1,50,99", "--no-ids": 0}): every alias's key read from
// `config` as the flag's text (flags: 1 when set, else 0), leaving out the keys in `skip` (inputs
// and outputs, which the key records otherwise).
nlohmann::json alias_values(const nlohmann::json& config, const std::vector<config::Alias>& aliases,
                            const std::set<std::string>& skip);

}  // namespace climseg::pipelines
