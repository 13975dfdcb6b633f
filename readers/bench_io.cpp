// A sample's load time through climseg's reader against bare nc_get_vara_float calls.
#include "readers/bench_io.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netcdf.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/threads.hpp"
#include "core/timer.hpp"
#include "geo/grid.hpp"
#include "readers/archive.hpp"
#include "readers/cf_file.hpp"
#include "readers/netcdf_file.hpp"

namespace climseg::io {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

double io_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// A CAM5-like file: the 16 DeepCAM channels as (time=1, lat, lon) float32, chunked per time step,
// deflated when level > 0. Fields are smooth large-scale patterns plus small-scale noise, so that
// they compress about as real model output does (not as constants or white noise would).
void write_sample_file(const fs::path& path, int64_t H, int64_t W, int deflate_level) {
  int ncid = -1;
  io::nc_check(nc_create(path.c_str(), NC_CLOBBER | NC_NETCDF4, &ncid), path.string(), "cannot create");
  int dt = 0, dlat = 0, dlon = 0;
  nc_def_dim(ncid, "time", NC_UNLIMITED, &dt);
  nc_def_dim(ncid, "lat", static_cast<size_t>(H), &dlat);
  nc_def_dim(ncid, "lon", static_cast<size_t>(W), &dlon);
  int vt = 0, vlat = 0, vlon = 0;
  nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt);
  nc_put_att_text(ncid, vt, "units", 30, "days since 2000-01-01 00:00:00");
  nc_put_att_text(ncid, vt, "calendar", 6, "noleap");
  nc_def_var(ncid, "lat", NC_DOUBLE, 1, &dlat, &vlat);
  nc_put_att_text(ncid, vlat, "units", 13, "degrees_north");
  nc_def_var(ncid, "lon", NC_DOUBLE, 1, &dlon, &vlon);
  nc_put_att_text(ncid, vlon, "units", 12, "degrees_east");
  const int dims[3] = {dt, dlat, dlon};
  const size_t chunk[3] = {1, static_cast<size_t>(H), static_cast<size_t>(W)};
  std::vector<int> vars;
  for (const std::string& name : io::deepcam_channels()) {
    int v = 0;
    io::nc_check(nc_def_var(ncid, name.c_str(), NC_FLOAT, 3, dims, &v), path.string(), "define", name);
    nc_def_var_chunking(ncid, v, NC_CHUNKED, chunk);
    if (deflate_level > 0) nc_def_var_deflate(ncid, v, 0, 1, deflate_level);
    vars.push_back(v);
  }
  io::nc_check(nc_enddef(ncid), path.string(), "enddef");
  geo::Grid g = geo::Grid::cam(H, W);
  nc_put_var_double(ncid, vlat, g.lat.data());
  nc_put_var_double(ncid, vlon, g.lon.data());
  const size_t start1 = 0, count1 = 1;
  const double t0 = 0;
  nc_put_vara_double(ncid, vt, &start1, &count1, &t0);
  std::mt19937 rng(12345);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<float> field(static_cast<size_t>(H * W));
  for (size_t c = 0; c < vars.size(); ++c) {
    const double base = 10.0 * double(c + 1), amp = 2.0 + double(c);
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j)
        field[static_cast<size_t>(i * W + j)] =
            static_cast<float>(base +
                               amp * std::sin(3.0 * g.lat[static_cast<size_t>(i)] * geo::kDegToRad + double(c)) *
                                   std::cos(2.0 * g.lon[static_cast<size_t>(j)] * geo::kDegToRad) +
                               0.01 * amp * noise(rng));
    const size_t start[3] = {0, 0, 0}, count[3] = {1, static_cast<size_t>(H), static_cast<size_t>(W)};
    io::nc_check(nc_put_vara_float(ncid, vars[c], start, count, field.data()), path.string(), "write",
                 io::deepcam_channels()[c]);
  }
  io::nc_check(nc_close(ncid), path.string(), "close");
}

// The baseline: one nc_get_vara_float per variable into one buffer, file open and close included.
void bare_read(const fs::path& path, int64_t H, int64_t W, std::vector<float>& out) {
  int ncid = -1;
  io::nc_check(nc_open(path.c_str(), NC_NOWRITE, &ncid), path.string(), "open");
  const size_t start[3] = {0, 0, 0}, count[3] = {1, static_cast<size_t>(H), static_cast<size_t>(W)};
  size_t c = 0;
  for (const std::string& name : io::deepcam_channels()) {
    int v = -1;
    nc_inq_varid(ncid, name.c_str(), &v);
    io::nc_check(nc_get_vara_float(ncid, v, start, count, out.data() + c * static_cast<size_t>(H * W)), path.string(),
                 "read", name);
    ++c;
  }
  nc_close(ncid);
}

}  // namespace

void bench_io(const IoBenchOptions& o, const std::function<void(json&, const std::string& file)>& done) {
  const int64_t H = o.height, W = o.width;
  // A temporary folder is removed at the end, whatever happens; a --dir folder is kept.
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ec;
      if (!path.empty()) fs::remove_all(path, ec);
    }
  } cleanup;
  fs::path dir = o.dir;
  if (dir.empty()) {
    dir = fs::temp_directory_path() / fmt::format("climseg-bench-io-{}", ::getpid());
    cleanup.path = dir;
  }
  fs::create_directories(dir);
  double load1 = 0;
  {
    std::ifstream la("/proc/loadavg");
    la >> load1;
  }
  if (load1 > 0.6) log::warn("bench io: 1-minute load average is {:.2f}: other work may distort the figures", load1);

  const std::vector<std::pair<std::string, int>> cases = {{"uncompressed", 0}, {"deflate", o.deflate}};
  for (const auto& [label, level] : cases) {
    const fs::path file = dir / fmt::format("sample_{}.nc", label);
    log::info("bench io: writing {} ({}x{}x16, {})", file.string(), H, W, label);
    write_sample_file(file, H, W, level);
    std::vector<float> buffer(static_cast<size_t>(16 * H * W));
    ArchiveOptions direct;
    direct.channels = parse_channels(fmt::format("{}", fmt::join(deepcam_channels(), ",")));
    ArchiveOptions library = direct;
    library.direct_read = false;
    // Like the bare path (one buffer reused), the reader loads into a recycled sample; a fresh
    // archive each time, so that opening the file is timed on both sides.
    Sample reused;
    auto time_reader = [&](const ArchiveOptions& ao, bool fresh) {
      Archive a = Archive::open({file.string()}, ao);
      Sample local;
      Stopwatch sw;
      a.load_into(0, fresh ? local : reused);
      return sw.seconds() * 1e3;
    };
    // Warm the page cache and every code path once, then alternate the paths.
    bare_read(file, H, W, buffer);
    time_reader(direct, false);
    time_reader(library, false);
    std::vector<double> bare, ours, ours_library, ours_fresh;
    for (int r = 0; r < o.repeat; ++r) {
      Stopwatch sw;
      bare_read(file, H, W, buffer);
      bare.push_back(sw.seconds() * 1e3);
      ours.push_back(time_reader(direct, false));
      ours_library.push_back(time_reader(library, false));
      ours_fresh.push_back(time_reader(direct, true));
    }
    // Check that both read the same values (the benchmark is meaningless otherwise).
    Sample s = Archive::open({file.string()}, direct).load(0);
    if (!std::equal(buffer.begin(), buffer.end(), s.data.begin()))
      fail("bench io: climseg's sample differs from nc_get_vara_float's for {}", file.string());

    json out = {{"bench", "io"},
                {"case", label},
                {"shape", {16, H, W}},
                {"megabytes", 16.0 * double(H * W) * 4 / 1e6},
                {"file_megabytes", double(fs::file_size(file)) / 1e6},
                {"repeat", o.repeat},
                {"threads", num_threads()},
                {"loadavg_1min", load1},
                {"bare_netcdf_ms", io_median(bare)},
                {"climseg_ms", io_median(ours)},
                {"climseg_library_ms", io_median(ours_library)},
                {"climseg_fresh_buffers_ms", io_median(ours_fresh)}};
    out["climseg_vs_bare"] = out["climseg_ms"].get<double>() / out["bare_netcdf_ms"].get<double>();
    done(out, file.string());
    fs::remove(file);
  }
}

}  // namespace climseg::io
