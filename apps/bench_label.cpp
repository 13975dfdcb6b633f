// `climseg bench label`: seconds per 768x1152 time step per core of the cyclone detector, with and
// without reading the files, against TECA's published run (58,400 CAM5 0.25° steps on 58,400 cores
// in about 35 minutes, I/O included: 35 core-minutes = 2,100 core-seconds per step).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/archive_roles.hpp"
#include "apps/bench_util.hpp"
#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/threads.hpp"
#include "core/timer.hpp"
#include "models/heuristics/pipeline.hpp"
#include "models/synth/archive.hpp"
#include "readers/archive.hpp"

namespace climseg::app {
namespace {
namespace fs = std::filesystem;

// TECA (Prabhat et al. 2015, "TECA: Petascale pattern recognition for climate science"): the
// cyclone detector over 58,400 six-hourly steps of CAM5 at 0.25° on 58,400 cores took about 35
// minutes including I/O, i.e. one step per core in 35 minutes.
constexpr double kTecaCoreSecondsPerStep = 35.0 * 60.0 * 58400.0 / 58400.0;

class BenchLabel : public Command {
 public:
  std::string name() const override { return "label"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "Cyclone detector: seconds per 768x1152 step per core, I/O included and excluded, vs TECA";
  }
  void setup(CLI::App& app) override {
    app.add_option("--grid", grid_, "HxW of the synthetic CAM5-like archive")->capture_default_str();
    app.add_option("--steps", steps_, "Time steps to time (after one warm-up)")->capture_default_str();
    app.add_option("--dir", dir_, "Where to write the archive (default: a temporary folder, removed)");
    app.footer(
        "Writes a climseg synth archive (not timed), then times per step: reading the 9 channels the detector\n"
        "needs (U850, V850, UBOT, VBOT, PSL, T200, T500, Z200, Z1000), the candidates (vorticity, local\n"
        "maxima, closed contours, warm core, thickness), and the Kurth et al. mask around the tracked\n"
        "centres. core_s = wall seconds x threads. The files were just written, so reads hit the page cache.");
  }

  int run(const GlobalOptions&) override {
    if (!Comm::world().is_root()) return 0;
    int64_t H = 0, W = 0;
    if (std::sscanf(grid_.c_str(), "%ldx%ld", &H, &W) != 2 || H < 16 || W < 16)
      fail_usage("--grid {}: expected HxW, e.g. 768x1152", grid_);
    if (steps_ < 1) fail_usage("--steps must be >= 1");
    const bool temporary = dir_.empty();
    const fs::path dir =
        temporary ? fs::temp_directory_path() / fmt::format("climseg-bench-label-{}", ::getpid()) : fs::path(dir_);
    struct Cleanup {
      fs::path p;
      bool on;
      ~Cleanup() {
        std::error_code ec;
        if (on) fs::remove_all(p, ec);
      }
    } cleanup{dir, temporary};

    synth::SynthConfig sc;
    sc.height = H;
    sc.width = W;
    sc.steps = steps_ + 1;
    sc.steps_per_file = steps_ + 1;
    sc.hours = 6.0;
    sc.cyclones = 8.0;
    sc.seed = 7;
    log::info("bench label: writing a {}x{} archive of {} steps under {}", H, W, sc.steps, dir.string());
    const synth::ArchiveFiles files = synth::write_archive(sc, dir, Comm::self(), false);

    heuristics::DetectConfig config;
    config.rivers = false;
    std::vector<std::string> roles = heuristics::candidate_roles();
    for (const auto& r : heuristics::mask_roles(config)) roles.push_back(r);
    io::ArchiveOptions o;
    for (const char* name : {"U850", "V850", "UBOT", "VBOT", "PSL", "T200", "T500", "Z200", "Z1000"})
      o.channels.push_back(io::ChannelSpec::parse(name));
    io::ArchiveOptions om;
    for (const char* name : {"TMQ", "UBOT", "VBOT", "PRECT"}) om.channels.push_back(io::ChannelSpec::parse(name));
    io::Archive a = io::Archive::open(files.cam, o);
    io::Archive am = io::Archive::open(files.cam, om);
    const std::vector<std::string> names = {"u850", "v850", "ubot", "vbot", "psl", "t200", "t500", "z200", "z1000"};

    std::vector<double> read_s, cand_s, read_mask_s, mask_s;
    std::vector<heuristics::TcCandidate> all;
    std::vector<io::Sample> kept;
    for (int64_t i = 0; i <= steps_; ++i) {  // step 0 warms up caches and is not counted
      Stopwatch t;
      io::Sample s = a.load(i);
      const double r = t.seconds();
      heuristics::StepFields f;
      f.grid = &s.grid;
      for (size_t c = 0; c < names.size(); ++c)
        f.planes[names[c]] = {s.data.data() + int64_t(c) * s.grid.size(), size_t(s.grid.size())};
      t.reset();
      auto c = heuristics::step_candidates(f, config, i, 0.25 * double(i));
      const double d = t.seconds();
      all.insert(all.end(), c.begin(), c.end());
      if (i > 0) {
        read_s.push_back(r);
        cand_s.push_back(d);
      }
    }
    std::vector<double> days;
    for (int64_t i = 0; i <= steps_; ++i) days.push_back(0.25 * double(i));
    heuristics::TrackParams lax = config.tracks;
    lax.min_wind_duration_days = 0;  // a short run: mask every stitched point
    Stopwatch ts;
    const auto tracks = heuristics::stitch_tracks(all, days, lax);
    const double stitch = ts.seconds();
    std::map<int64_t, std::vector<geo::LatLon>> centres;
    for (const auto& t : tracks)
      for (const auto& p : t.points) centres[p.step].push_back({p.lat, p.lon});
    for (int64_t i = 0; i <= steps_; ++i) {
      Stopwatch t;
      io::Sample s = am.load(i);
      const double r = t.seconds();
      heuristics::StepFields f;
      f.grid = &s.grid;
      const std::vector<std::string> mnames = {"tmq", "ubot", "vbot", "prect"};
      for (size_t c = 0; c < mnames.size(); ++c)
        f.planes[mnames[c]] = {s.data.data() + int64_t(c) * s.grid.size(), size_t(s.grid.size())};
      t.reset();
      heuristics::step_labels(f, config, centres[i]);
      const double d = t.seconds();
      if (i > 0) {
        read_mask_s.push_back(r);
        mask_s.push_back(d);
      }
    }
    const int threads = num_threads();
    const double compute = median(cand_s) + median(mask_s) + stitch / double(steps_ + 1);
    const double io = median(read_s) + median(read_mask_s);
    nlohmann::json j;
    j["bench"] = "label";
    j["detector"] = "tc";
    j["grid"] = fmt::format("{}x{}", H, W);
    j["steps"] = steps_;
    j["threads"] = threads;
    j["candidates_per_step"] = double(all.size()) / double(steps_ + 1);
    j["tracks"] = tracks.size();
    j["read_s_per_step"] = io;
    j["candidates_s_per_step"] = median(cand_s);
    j["mask_s_per_step"] = median(mask_s);
    j["stitch_s_total"] = stitch;
    j["core_s_per_step_io_excluded"] = compute * threads;
    j["core_s_per_step_io_included"] = (compute + io) * threads;
    j["teca_core_s_per_step"] = kTecaCoreSecondsPerStep;
    j["teca_ratio_io_included"] = kTecaCoreSecondsPerStep / ((compute + io) * threads);
    j["note"] = "TECA: 58,400 steps on 58,400 cores in ~35 min, I/O included (published); reads from page cache here";
    j["isa"] = isa_name(active_isa());
    std::cout << j.dump() << "\n";
    return 0;
  }

 private:
  std::string grid_ = "768x1152", dir_;
  int64_t steps_ = 4;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchLabel)
}  // namespace climseg::app
