// The track tables climseg writes, read back: tc_tracks.csv from `climseg label` (track_id, step,
// lat, lon, ...) and event_points.csv from `climseg events` (event_id, class, step, lat, lon, ...),
// columns found by their header names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace climseg::io {

struct TrackPoint {
  int64_t id = 0, step = 0;
  double lat = 0, lon = 0;
  int cls = 0;  // event_points.csv: the event's class; tc_tracks.csv: 0
};

// Parses the text of a track table; `source` names it in messages ("FILE: no column 'lat' ...",
// "FILE:LINE: not a number in '...'"). Throws Error.
std::vector<TrackPoint> parse_track_table(std::string_view text, const std::string& source);
// Reads and parses the file at `path`.
std::vector<TrackPoint> read_track_table(const std::string& path);

}  // namespace climseg::io
