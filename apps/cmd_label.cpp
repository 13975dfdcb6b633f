// `climseg label`: physics-heuristic labels for an archive (cyclones, rivers, waves) in ClimateNet's
// layout, plus the cyclone track table; MPI-parallel over time steps and files. The wiring of
// pipelines::label_archive (models/pipelines/label.hpp) to the command line.
#include <fmt/format.h>

#include <iostream>

#include "apps/command.hpp"
#include "apps/config_options.hpp"
#include "core/mpi.hpp"
#include "models/pipelines/label.hpp"

namespace climseg::app {
namespace {

class LabelCommand : public Command {
 public:
  std::string name() const override { return "label"; }
  std::string summary() const override {
    return "Label cyclones, rivers and extreme waves with physics heuristics (TECA/GFDL, Kurth et al.)";
  }
  int order() const override { return 40; }
  bool accepts_extra_args() const override { return true; }

  void setup(CLI::App& app) override {
    options_.setup(app, pipelines::LabelConfig::cli_aliases(), pipelines::LabelConfig{}.to_json());
    app.footer(
        "Writes DIR/<input>.labels.nc (LABELS: 0 background, 1 tropical_cyclone, 2 atmospheric_river,\n"
        "3 extreme_waves; a cyclone over a river stays a cyclone), DIR/tc_tracks.csv, DIR/rivers.csv and\n"
        "DIR/label_summary.json. See docs/detectors.md for the criteria. A rerun keeps label files that are\n"
        "complete and redoes the rest (--overwrite redoes all). Every configuration key can be set as\n"
        "--key value (--tc.min_vorticity 1e-4); --config takes a JSON configuration or an earlier run's\n"
        "label_summary.json, which redoes that run (docs/cli.md).");
  }

  int run(const GlobalOptions& global) override {
    const Comm world = Comm::world();
    const pipelines::LabelConfig cfg = pipelines::LabelConfig::from_json(options_.resolve(global.extra_args));
    if (options_.print()) {
      if (world.is_root()) std::cout << cfg.to_json().dump(2) << "\n";
      return 0;
    }
    const pipelines::LabelReport r = pipelines::label_archive(cfg, world, !global.no_progress);
    if (world.is_root())
      std::cout << fmt::format(
          "labelled {} samples in {:.1f} s: {} cyclone tracks from {} candidates, {} river objects\n", r.samples,
          r.seconds, r.cyclone_tracks, r.cyclone_candidates, r.river_objects);
    return 0;
  }

 private:
  ConfigOptions options_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(LabelCommand)
}  // namespace climseg::app
