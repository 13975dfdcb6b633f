// The semantic view of a file for `climseg inspect`: its grid, time axis, vertical levels and the
// channels that can be built from it, as JSON and as text.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "readers/cf_file.hpp"

namespace climseg::io {

// {grid: {...} | {error}, time: {...} | null, levels: [...], channels: [...], not_channels: [...],
//  labels: name | null, deepcam: bool}. See docs/cli.md for the fields.
nlohmann::json describe_semantic(const FileMeta& meta);

// Human-readable text of the JSON above (a few lines per section).
std::string format_semantic(const nlohmann::json& semantic);

// "6 hours", "1 day", "1 month", "irregular (3 to 6 hours)" from the raw values of a time axis.
std::string describe_time_step(const FileMeta& meta);

}  // namespace climseg::io
