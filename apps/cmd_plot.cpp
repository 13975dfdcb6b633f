// `climseg plot`: PNG maps of a field with class outlines and tracks, or the pictures of an events
// summary (models/pipelines/plot_pipeline.hpp).
#include <fmt/format.h>

#include <iostream>

#include "apps/command.hpp"
#include "apps/config_options.hpp"
#include "core/mpi.hpp"
#include "models/pipelines/plot_pipeline.hpp"

namespace climseg::app {
namespace {

class PlotCommand : public Command {
 public:
  std::string name() const override { return "plot"; }
  std::string summary() const override {
    return "PNG maps of a field with class outlines and tracks; event statistics";
  }
  int order() const override { return 80; }

  void setup(CLI::App& app) override {
    options_.setup(app, pipelines::PlotConfig::cli_aliases(), pipelines::PlotConfig{}.to_json());
    app.footer(
        "Colours: viridis (perceptually uniform), grey where values are missing; outlines: cyclones red,\n"
        "rivers white, waves orange; cyclone tracks red with a dot per step, event tracks in their class's\n"
        "colour, ids at genesis. Coastlines need Debian's gmt-gshhg-low.");
  }

  int run(const GlobalOptions& global) override {
    const Comm world = Comm::world();
    const pipelines::PlotConfig cfg = pipelines::PlotConfig::from_json(options_.resolve({}));
    if (options_.print()) {
      if (world.is_root()) std::cout << cfg.to_json().dump(2) << "\n";
      return 0;
    }
    const pipelines::PlotReport r = pipelines::run_plot(cfg, world, {.progress = !global.no_progress});
    if (!world.is_root()) return 0;
    if (!cfg.summary.empty())
      std::cout << fmt::format("drew {} picture(s) into {}\n", r.pictures, cfg.out);
    else
      std::cout << fmt::format("drew {} map(s) of {} into {}\n", r.pictures, cfg.var, cfg.out);
    return 0;
  }

 private:
  ConfigOptions options_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(PlotCommand)
}  // namespace climseg::app
