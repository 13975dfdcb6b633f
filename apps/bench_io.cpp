// `climseg bench io`: time to load one 16-channel sample from a netCDF-4 file through climseg's
// reader, through bare nc_get_vara_float calls for the same bytes (readers/bench_io.hpp), and
// through xarray and netCDF4-python (scripts/peer/netcdf_read.py, started here).
#include "readers/bench_io.hpp"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/bench_peer.hpp"
#include "apps/command.hpp"
#include "core/isa.hpp"
#include "core/mpi.hpp"
#include "readers/cf_file.hpp"

namespace climseg::app {
namespace {

// The Python readers' median milliseconds for `file`, run with glibc's allocator as it is and keeping
// freed memory, the faster of the two per reader (faster_peer); an empty object when none could run.
nlohmann::json netcdf_read_peer(const std::string& file, int repeat) {
  std::string names;
  for (const std::string& n : io::deepcam_channels()) names += (names.empty() ? "" : ",") + n;
  std::vector<nlohmann::json> runs;
  for (const PeerRun& run : run_peer_both_allocators(fmt::format("/usr/bin/python3 '{}' '{}' '{}' {} 2>/dev/null",
                                                                 peer_script("netcdf_read.py"), file, names, repeat))) {
    try {
      runs.push_back(run.status == -1 ? nlohmann::json::object() : nlohmann::json::parse(run.out));
    } catch (const nlohmann::json::exception&) {
      runs.push_back(nlohmann::json::object());
    }
  }
  nlohmann::json out = runs[0].empty() ? runs[1] : runs[0];
  for (const std::string key : {"xarray_ms", "netcdf4_python_ms"}) {
    const nlohmann::json f = faster_peer(runs[0], runs[1], key);
    for (const std::string& k : {key, key + "_default_allocator", key + "_keep_memory", key + "_allocator"})
      if (f.is_object() && f.contains(k)) out[k] = f[k];
  }
  return out;
}

class BenchIoCommand : public Command {
 public:
  std::string name() const override { return "io"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "Load one 16-channel sample: climseg's reader vs bare nc_get_vara_float vs xarray";
  }
  void setup(CLI::App& app) override {
    app.add_option("--height", o_.height, "Grid rows (default 768)")->check(CLI::Range(8, 8192));
    app.add_option("--width", o_.width, "Grid columns (default 1152)")->check(CLI::Range(8, 16384));
    app.add_option("--repeat", o_.repeat, "Timed repetitions per path; medians are reported (default 7)")
        ->check(CLI::Range(1, 1000));
    app.add_option("--deflate", o_.deflate, "Deflate level of the compressed case (default 4)")
        ->check(CLI::Range(1, 9));
    app.add_option("--dir", o_.dir, "Where to write the two test files (default: a temporary folder)");
    app.add_flag("--no-python", no_python_, "Skip the xarray / netCDF4-python peers");
    app.footer(
        "Prints one JSON object per case (uncompressed, deflate) on stdout. The page cache is warm (each path runs\n"
        "once untimed). climseg_ms is Archive::load_into(0) of a freshly opened archive into a recycled sample (the\n"
        "file open is included and the buffer reused, as in the bare path); climseg_library_ms is the same with\n"
        "direct chunk reads off; climseg_fresh_buffers_ms allocates a new sample (page faults included).");
  }

  int run(const GlobalOptions&) override {
    if (!Comm::world().is_root()) return 0;  // a single-process measurement
    io::bench_io(o_, [&](nlohmann::json& out, const std::string& file) {
      if (!no_python_) {
        const nlohmann::json peer = netcdf_read_peer(file, o_.repeat);
        for (auto& [k, v] : peer.items()) out[k] = v;
        if (peer.contains("xarray_ms"))
          out["climseg_speedup_vs_xarray"] = peer["xarray_ms"].get<double>() / out["climseg_ms"].get<double>();
        else
          out["xarray_ms"] = nullptr;
      }
      out["isa"] = isa_name(active_isa());
      std::cout << out.dump() << std::endl;
    });
    return 0;
  }

 private:
  io::IoBenchOptions o_;
  bool no_python_ = false;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchIoCommand)
}  // namespace climseg::app
