// Track tables (tc_tracks.csv, event_points.csv) read by header name.
#include "readers/track_table.hpp"

#include <algorithm>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace climseg::io {

std::vector<TrackPoint> parse_track_table(std::string_view text, const std::string& source) {
  std::istringstream in{std::string(text)};
  std::string line;
  if (!std::getline(in, line)) fail("{}: empty track table", source);
  std::vector<std::string> head;
  {
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) head.push_back(cell);
  }
  auto find = [&](const char* name) {
    for (size_t k = 0; k < head.size(); ++k)
      if (head[k] == name) return k;
    return head.size();
  };
  const bool events = find("event_id") < head.size();
  auto col = [&](const char* name) {
    const size_t k = find(name);
    if (k == head.size())
      fail(
          "{}: no column '{}' in the header (is it a tc_tracks.csv from climseg label or an event_points.csv from "
          "climseg events?)",
          source, name);
    return k;
  };
  const size_t ci = col(events ? "event_id" : "track_id"), cs = col("step"), cy = col("lat"), cx = col("lon");
  const size_t cc = events ? col("class") : 0;
  const size_t need = std::max({ci, cs, cy, cx, cc});
  std::vector<TrackPoint> rows;
  int64_t n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    // (Empty trailing cells, like an event point without a peak, end the split early.)
    if (cells.size() <= need) fail("{}:{}: expected {} columns, got {}", source, n, head.size(), cells.size());
    try {
      rows.push_back({std::stoll(cells[ci]), std::stoll(cells[cs]), std::stod(cells[cy]), std::stod(cells[cx]),
                      events ? std::stoi(cells[cc]) : 0});
    } catch (const std::exception&) {
      fail("{}:{}: not a number in '{}'", source, n, line);
    }
  }
  return rows;
}

std::vector<TrackPoint> read_track_table(const std::string& path) { return parse_track_table(read_file(path), path); }

}  // namespace climseg::io
