// `climseg bench io`: time to load one 16-channel sample from a netCDF-4 file through climseg's
// reader, through bare nc_get_vara_float calls for the same bytes, and through xarray (peer).
#include <fmt/format.h>
#include <netcdf.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "apps/bench_util.hpp"
#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/threads.hpp"
#include "core/timer.hpp"
#include "readers/archive.hpp"
#include "readers/cf_file.hpp"
#include "readers/netcdf_file.hpp"

namespace climseg::app {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

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

// The package versions come from the installed distribution's metadata; Debian's python3-xarray
// reports 999 there and in __version__ (its build lacks the git tag), so the Debian package's
// version (less its revision) is taken from dpkg-query then.
constexpr const char* kPeerScript = R"(import sys, time, json, statistics, subprocess
f, names, n = sys.argv[1], sys.argv[2].split(','), int(sys.argv[3])
out = {}
def version(module, dist, deb):
    v = getattr(module, '__version__', '')
    try:
        import importlib.metadata
        v = importlib.metadata.version(dist)
    except Exception:
        pass
    if not v or v.startswith('999'):
        try:
            d = subprocess.run(['dpkg-query', '-W', '-f=${Version}', deb], capture_output=True, text=True).stdout
            if d.strip():
                v = d.strip().split(':')[-1].rsplit('-', 1)[0]
        except Exception:
            pass
    return v
try:
    import xarray
    def xa():
        with xarray.open_dataset(f) as ds:
            return [ds[v].values for v in names]
    fns = [('xarray', xa)]
    out['xarray_version'] = version(xarray, 'xarray', 'python3-xarray')
except ImportError:
    fns = []
try:
    import netCDF4
    def nc4():
        with netCDF4.Dataset(f) as ds:
            return [ds[v][:] for v in names]
    fns.append(('netcdf4_python', nc4))
    out['netcdf4_python_version'] = version(netCDF4, 'netCDF4', 'python3-netcdf4')
except ImportError:
    pass
for name, fn in fns:
    fn()
    t = []
    for _ in range(n):
        a = time.perf_counter(); fn(); t.append(time.perf_counter() - a)
    out[name + '_ms'] = statistics.median(t) * 1e3
print(json.dumps(out))
)";

json run_peer(const fs::path& dir, const fs::path& file, int repeat) {
  const fs::path script = dir / "bench_io_peer.py";
  std::ofstream(script) << kPeerScript;
  std::string names;
  for (const std::string& n : io::deepcam_channels()) names += (names.empty() ? "" : ",") + n;
  const std::string cmd =
      fmt::format("/usr/bin/python3 '{}' '{}' '{}' {} 2>/dev/null", script.string(), file.string(), names, repeat);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return json::object();
  std::string text;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  ::pclose(p);
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return json::object();
  }
}

class BenchIoCommand : public Command {
 public:
  std::string name() const override { return "io"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "Load one 16-channel sample: climseg's reader vs bare nc_get_vara_float vs xarray";
  }
  void setup(CLI::App& app) override {
    app.add_option("--height", H_, "Grid rows (default 768)")->check(CLI::Range(8, 8192));
    app.add_option("--width", W_, "Grid columns (default 1152)")->check(CLI::Range(8, 16384));
    app.add_option("--repeat", repeat_, "Timed repetitions per path; medians are reported (default 7)")
        ->check(CLI::Range(1, 1000));
    app.add_option("--deflate", level_, "Deflate level of the compressed case (default 4)")->check(CLI::Range(1, 9));
    app.add_option("--dir", dir_, "Where to write the two test files (default: a temporary folder)");
    app.add_flag("--no-python", no_python_, "Skip the xarray / netCDF4-python peers");
    app.footer(
        "Prints one JSON object per case (uncompressed, deflate) on stdout. The page cache is warm (each path runs\n"
        "once untimed). climseg_ms is Archive::load_into(0) of a freshly opened archive into a recycled sample (the\n"
        "file open is included and the buffer reused, as in the bare path); climseg_library_ms is the same with\n"
        "direct chunk reads off; climseg_fresh_buffers_ms allocates a new sample (page faults included).");
  }

  int run(const GlobalOptions&) override {
    if (!Comm::world().is_root()) return 0;  // a single-process measurement
    // A temporary folder is removed at the end, whatever happens; a --dir folder is kept.
    struct Cleanup {
      fs::path path;
      ~Cleanup() {
        std::error_code ec;
        if (!path.empty()) fs::remove_all(path, ec);
      }
    } cleanup;
    fs::path dir = dir_;
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

    const std::vector<std::pair<std::string, int>> cases = {{"uncompressed", 0}, {"deflate", level_}};
    for (const auto& [label, level] : cases) {
      const fs::path file = dir / fmt::format("sample_{}.nc", label);
      log::info("bench io: writing {} ({}x{}x16, {})", file.string(), H_, W_, label);
      write_sample_file(file, H_, W_, level);
      std::vector<float> buffer(static_cast<size_t>(16 * H_ * W_));
      io::ArchiveOptions direct;
      direct.channels = io::parse_channels(fmt::format("{}", fmt::join(io::deepcam_channels(), ",")));
      io::ArchiveOptions library = direct;
      library.direct_read = false;
      // Like the bare path (one buffer reused), the reader loads into a recycled sample; a fresh
      // archive each time, so that opening the file is timed on both sides.
      io::Sample reused;
      auto time_reader = [&](const io::ArchiveOptions& o, bool fresh) {
        io::Archive a = io::Archive::open({file.string()}, o);
        io::Sample local;
        Stopwatch sw;
        a.load_into(0, fresh ? local : reused);
        return sw.seconds() * 1e3;
      };
      // Warm the page cache and every code path once, then alternate the paths.
      bare_read(file, H_, W_, buffer);
      time_reader(direct, false);
      time_reader(library, false);
      std::vector<double> bare, ours, ours_library, ours_fresh;
      for (int r = 0; r < repeat_; ++r) {
        Stopwatch sw;
        bare_read(file, H_, W_, buffer);
        bare.push_back(sw.seconds() * 1e3);
        ours.push_back(time_reader(direct, false));
        ours_library.push_back(time_reader(library, false));
        ours_fresh.push_back(time_reader(direct, true));
      }
      // Check that both read the same values (the benchmark is meaningless otherwise).
      io::Sample s = io::Archive::open({file.string()}, direct).load(0);
      if (!std::equal(buffer.begin(), buffer.end(), s.data.begin()))
        fail("bench io: climseg's sample differs from nc_get_vara_float's for {}", file.string());

      json out = {{"bench", "io"},
                  {"case", label},
                  {"shape", {16, H_, W_}},
                  {"megabytes", 16.0 * double(H_ * W_) * 4 / 1e6},
                  {"file_megabytes", double(fs::file_size(file)) / 1e6},
                  {"repeat", repeat_},
                  {"threads", num_threads()},
                  {"loadavg_1min", load1},
                  {"bare_netcdf_ms", median(bare)},
                  {"climseg_ms", median(ours)},
                  {"climseg_library_ms", median(ours_library)},
                  {"climseg_fresh_buffers_ms", median(ours_fresh)}};
      out["climseg_vs_bare"] = out["climseg_ms"].get<double>() / out["bare_netcdf_ms"].get<double>();
      if (!no_python_) {
        json peer = run_peer(dir, file, repeat_);
        for (auto& [k, v] : peer.items()) out[k] = v;
        if (peer.contains("xarray_ms"))
          out["climseg_speedup_vs_xarray"] = peer["xarray_ms"].get<double>() / out["climseg_ms"].get<double>();
        else
          out["xarray_ms"] = nullptr;
      }
      out["isa"] = isa_name(active_isa());
      std::cout << out.dump() << std::endl;
      fs::remove(file);
    }
    return 0;
  }

 private:
  int64_t H_ = 768, W_ = 1152;
  int repeat_ = 7, level_ = 4;
  std::string dir_;
  bool no_python_ = false;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchIoCommand)
}  // namespace climseg::app
