// `climseg events`: events from any class-map archive (heuristic labels or network predictions)
// (models/pipelines/events_pipeline.hpp).
#include <fmt/format.h>

#include <iostream>

#include "apps/command.hpp"
#include "apps/config_options.hpp"
#include "core/mpi.hpp"
#include "models/pipelines/events_pipeline.hpp"

namespace climseg::app {
namespace {

class EventsCommand : public Command {
 public:
  std::string name() const override { return "events"; }
  std::string summary() const override {
    return "Events from class maps: components on the sphere linked over time, tables, statistics, id maps";
  }
  int order() const override { return 70; }

  void setup(CLI::App& app) override {
    options_.setup(app, pipelines::EventsConfig::cli_aliases(), pipelines::EventsConfig{}.to_json());
    app.get_option("--peak")->check(CLI::IsMember({"max", "min"}));
    app.footer(
        "Writes DIR/events.csv (one row per event), DIR/event_points.csv (one row per event and step),\n"
        "DIR/events_summary.json and .nc (counts per class and year, lifetime and speed histograms, genesis\n"
        "density), DIR/event_ids.nc (event id per cell, 0 none) and PNG pictures. See docs/events.md.\n"
        "--config DIR/events_summary.json reruns an earlier run (its \"config\": every setting).");
  }

  int run(const GlobalOptions& global) override {
    const Comm world = Comm::world();
    const pipelines::EventsConfig cfg = pipelines::EventsConfig::from_json(options_.resolve({}));
    if (options_.print()) {
      if (world.is_root()) std::cout << cfg.to_json().dump(2) << "\n";
      return 0;
    }
    const pipelines::EventsReport r = pipelines::run_events(cfg, world, {.progress = !global.no_progress});
    if (world.is_root())
      std::cout << fmt::format("{} events kept of {} found in {} steps ({:.1f} s)\n", r.events_kept, r.events_started,
                               r.steps, r.seconds);
    return 0;
  }

 private:
  ConfigOptions options_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(EventsCommand)
}  // namespace climseg::app
