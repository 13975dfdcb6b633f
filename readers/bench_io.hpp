// `climseg bench io`: time to load one 16-channel sample from a netCDF-4 file through climseg's
// reader and through bare nc_get_vara_float calls for the same bytes (the peers, xarray and
// netCDF4-python, are started by apps/bench_io.cpp on the same file).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace climseg::io {

struct IoBenchOptions {
  int64_t height = 768, width = 1152;
  int repeat = 7;   // timed repetitions per path (medians reported)
  int deflate = 4;  // deflate level of the compressed case
  std::string dir;  // where the two test files go (empty: a temporary folder, removed)
};

// For each case (uncompressed, deflate) writes a CAM5-like file of the 16 DeepCAM channels, times
// the paths (page cache warm), checks that both read the same values, and calls done(result, file)
// while the file still exists (then removes it). result: bench, case, shape, megabytes,
// file_megabytes, repeat, threads, loadavg_1min, bare_netcdf_ms, climseg_ms, climseg_library_ms,
// climseg_fresh_buffers_ms, climseg_vs_bare.
void bench_io(const IoBenchOptions& o, const std::function<void(nlohmann::json&, const std::string& file)>& done);

}  // namespace climseg::io
