// Coastlines from the GSHHG data that Debian's gmt-gshhg-low installs (GMT's binned netCDF format).
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "analysis/plot.hpp"
#include "core/log.hpp"
#include "core/netcdf.hpp"

namespace climseg::plot {
namespace {

// GMT's binned shorelines: bins of bin_size degrees numbered row by row from the north, each with
// segments whose points are 16-bit offsets from the bin's south-west corner; a segment's info word
// holds its point count (>> 9) and level (>> 6 & 7: 1 ocean shore, 2 lake, 3 island in a lake,
// 4 pond, 5-6 Antarctic ice and ground lines).
std::vector<std::vector<geo::LatLon>> read_binned(const std::string& path) {
  std::vector<std::vector<geo::LatLon>> lines;
  // Read through core (under the process-wide HDF5 lock; shorts converted to int by the library).
  const auto vars = netcdf::read_1d_ints(
      path, {"Bin_size_in_minutes", "N_bins_in_360_longitude_range", "Id_of_first_segment_in_a_bin",
             "N_segments_in_a_bin", "Embedded_npts_levels_exit_entry_for_a_segment", "Id_of_first_point_in_a_segment",
             "Relative_longitude_from_SW_corner_of_bin", "Relative_latitude_from_SW_corner_of_bin"});
  if (!vars) return lines;
  const std::vector<int>&bin_minutes = (*vars)[0], &nx = (*vars)[1], &first_seg = (*vars)[2], &nseg = (*vars)[3],
        &info = (*vars)[4], &first_pt = (*vars)[5], &dx = (*vars)[6], &dy = (*vars)[7];
  if (bin_minutes.empty() || nx.empty() || nx[0] <= 0) return lines;
  const double size = bin_minutes[0] / 60.0;
  for (size_t b = 0; b < first_seg.size() && b < nseg.size(); ++b) {
    const double west = double(b % size_t(nx[0])) * size;
    const double south = 90.0 - double(b / size_t(nx[0]) + 1) * size;
    for (int s = first_seg[b]; s < first_seg[b] + nseg[b]; ++s) {
      if (s < 0 || size_t(s) >= info.size()) return {};
      const int n = info[size_t(s)] >> 9, level = (info[size_t(s)] >> 6) & 7;
      if (level == 3 || level == 4) continue;
      std::vector<geo::LatLon> line;
      for (int p = first_pt[size_t(s)]; p < first_pt[size_t(s)] + n; ++p) {
        if (p < 0 || size_t(p) >= dx.size()) return {};
        line.push_back(
            {south + (uint16_t(dy[size_t(p)]) / 65535.0) * size, west + (uint16_t(dx[size_t(p)]) / 65535.0) * size});
      }
      if (line.size() > 1) lines.push_back(std::move(line));
    }
  }
  return lines;
}

}  // namespace

const std::vector<std::vector<geo::LatLon>>& coastlines() {
  static std::once_flag once;
  static std::vector<std::vector<geo::LatLon>> lines;
  std::call_once(once, [] {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("CLIMSEG_GSHHG_DIR")) dirs.emplace_back(env);
    dirs.emplace_back("/usr/share/gmt-gshhg");
    dirs.emplace_back("/usr/share/gshhg-gmt-nc4");
    for (const auto& d : dirs)
      for (const char* res : {"l", "c"}) {
        const std::string path = d + "/binned_GSHHS_" + res + ".nc";
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) continue;
        lines = read_binned(path);
        if (!lines.empty()) {
          log::debug("coastlines from {} ({} segments)", path, lines.size());
          return;
        }
      }
    log::debug("no GSHHG coastlines found (install gmt-gshhg-low to draw them)");
  });
  return lines;
}

}  // namespace climseg::plot
