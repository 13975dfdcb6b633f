// `climseg synth --out DIR ...`: a synthetic CAM5-like archive with planted cyclones, rivers and
// (optionally) extreme waves, and the truth of where they are.
#include <fmt/format.h>

#include <iostream>
#include <regex>
#include <tuple>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/timer.hpp"
#include "geo/cubed_sphere.hpp"
#include "models/synth/archive.hpp"

namespace climseg::app {
namespace {

class SynthCommand : public Command {
 public:
  std::string name() const override { return "synth"; }
  std::string summary() const override {
    return "Write a synthetic CAM5-like archive with planted cyclones, rivers and waves, and their truth";
  }
  int order() const override { return 15; }

  void setup(CLI::App& app) override {
    app.add_option("--out", out_, "Output folder (created when missing)")->required();
    app.add_option("--grid", grid_,
                   "HxW: latitudes (-90..90 inclusive) x longitudes (from 0); or a cubed sphere (ne30np4, ne30pg2): "
                   "CAM-SE column files")
        ->default_val("192x288");
    app.add_option("--steps", c_.steps, "Time steps in all")->default_val(16);
    app.add_option("--steps-per-file", c_.steps_per_file, "Time steps per file")->default_val(8);
    app.add_option("--hours", c_.hours, "Hours between steps (CAM5 h2: 3)")->default_val(3.0);
    app.add_option("--seed", c_.seed, "Random seed: the same seed gives byte-identical files")->default_val(1);
    app.add_option("--start", start_, "First time: YYYY-MM-DD or YYYY-MM-DDTHH")->default_val("2000-01-01");
    app.add_option("--calendar", c_.calendar, "noleap (CAM5) or standard")->default_val("noleap");
    app.add_flag("--lat-descending", c_.lat_descending, "Store latitudes north to south (as ERA5)");
    app.add_option("--levels", levels_, "3-D Q, U, V: none, pressure (lev in hPa) or hybrid (CAM hyam/hybm/P0/PS)")
        ->default_val("none");
    app.add_option("--plev", plev_, "Pressure levels in hPa, surface first")
        ->delimiter(',')
        ->default_str("1000,925,850,700,600,500,400,300,250,200");
    app.add_option("--hybrid-levels", c_.hybrid_levels, "Number of hybrid levels")->default_val(30);
    app.add_flag("--waves", c_.waves,
                 "Also write WAVEWATCH III-like hs files (under waves/), extreme patches labelled 3");
    app.add_option("--cyclones", c_.cyclones, "Mean number of cyclones alive at a time (globe)")->default_val(4.0);
    app.add_option("--rivers", c_.rivers, "Mean number of atmospheric rivers alive at a time (globe)")
        ->default_val(4.0);
    app.add_option("--deflate", c_.deflate_level, "Deflate level 0..9")->default_val(1);
    app.add_option("--prefix", c_.prefix, "File name prefix")->default_val("synth");
  }

  int run(const GlobalOptions& global) override {
    std::smatch m;
    if (geo::parse_cubed_sphere(grid_)) {
      c_.columns = grid_;
      std::tie(c_.height, c_.width) = synth::latlon_size_of(grid_);
    } else if (std::regex_match(grid_, m, std::regex(R"((\d+)x(\d+))"))) {
      c_.height = std::stoll(m[1]);
      c_.width = std::stoll(m[2]);
    } else {
      fail_usage("--grid {}: expected HxW (e.g. 192x288) or a cubed sphere (e.g. ne30np4, ne30pg2)", grid_);
    }
    if (!std::regex_match(start_, m, std::regex(R"((\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}))?)")))
      fail_usage("--start {}: expected YYYY-MM-DD or YYYY-MM-DDTHH", start_);
    c_.start_year = std::stoi(m[1]);
    c_.start_month = std::stoi(m[2]);
    c_.start_day = std::stoi(m[3]);
    c_.start_hour = m[4].matched ? std::stoi(m[4]) : 0;
    if (levels_ == "none")
      c_.levels = synth::Levels::none;
    else if (levels_ == "pressure")
      c_.levels = synth::Levels::pressure;
    else if (levels_ == "hybrid")
      c_.levels = synth::Levels::hybrid;
    else
      fail_usage("--levels {}: use none, pressure or hybrid", levels_);
    if (!plev_.empty()) c_.plev_hpa = plev_;
    synth::validate(c_);
    synth::SynthClock clock(c_);  // checks the start date exists in the calendar

    const Comm world = Comm::world();
    Stopwatch sw;
    const synth::ArchiveFiles files = synth::write_archive(c_, out_, world, !global.no_progress);
    const double seconds = sw.seconds();
    if (world.is_root()) {
      log::info("wrote {} file(s) of {} step(s) at {} in {:.2f} s ({:.3f} s per step on {} rank(s))", files.cam.size(),
                c_.steps, c_.columns.empty() ? fmt::format("{}x{}", c_.height, c_.width) : c_.columns, seconds,
                seconds / double(c_.steps), world.size());
      std::cout << fmt::format("{}\n{}\n{}\n", files.manifest, files.cyclones_csv, files.rivers_csv);
      if (c_.waves) std::cout << files.waves_csv << "\n";
      for (const auto& f : files.cam) std::cout << f << "\n";
      for (const auto& f : files.waves) std::cout << f << "\n";
    }
    return 0;
  }

 private:
  synth::SynthConfig c_;
  std::string out_, grid_, start_, levels_;
  std::vector<double> plev_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(SynthCommand)
}  // namespace climseg::app
