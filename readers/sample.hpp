// One time step of an archive as the rest of climseg sees it: named channels [C,H,W] float32 on
// the canonical grid, with the mask of valid values, optional labels, and where it came from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "geo/grid.hpp"
#include "readers/calendar.hpp"

namespace climseg::io {

struct Sample {
  geo::Grid grid;
  geo::Orientation orientation;  // of the file it came from
  std::string file;              // first file the sample was read from
  int64_t index = 0;             // sample index in its archive
  int64_t time_index = 0;        // index along the file's time axis
  double time_value = 0.0;       // raw value in time_units
  std::string time_units;        // CF units, e.g. "days since 2000-01-01 00:00:00"
  std::string calendar;          // CF calendar name as in the file ("standard" when absent)
  std::string time_iso;          // decoded, e.g. "2000-01-01T03:00:00"; "" when the file has no CF time
  bool has_date = false;         // `date` is decoded from CF time
  DateTime date;                 // in `calendar`
  std::vector<std::string> channels;
  std::vector<std::string> units;  // per channel, as written in the file
  Tensor data;                     // (C, H, W) physical values; 0 where invalid
  Tensor valid;                    // (C, H, W) 1 valid / 0 fill or missing; undefined (numel 0) when all valid
  Tensor labels;                   // (H, W) class ids stored as float (-1 where the file has fill); numel 0 when none
  // Channels that are entirely fill values in this sample (a warning was logged).
  std::vector<std::string> empty_channels;
  // Per channel: NaN (that is not the declared fill value) and ±Inf found in the file and masked;
  // empty when there were none. A warning names the file and variable.
  std::vector<int64_t> nonfinite;
  // True when a channel is entirely fill and the archive's FillPolicy is skip: consumers that
  // iterate (Prefetcher, stats, predict) pass over this sample.
  bool skip = false;

  int64_t channels_count() const { return static_cast<int64_t>(channels.size()); }
  int channel_index(const std::string& name) const;  // -1 when absent
  // Channel c as an (H, W) view of `data`.
  Tensor channel(int64_t c) const { return data.slice0(c); }
};

}  // namespace climseg::io
