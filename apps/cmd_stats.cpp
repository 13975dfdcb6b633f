// `climseg stats`: per-channel normalization statistics of an archive (models/pipelines/stats_pipeline.hpp).
#include <fmt/format.h>

#include <iostream>

#include "apps/command.hpp"
#include "apps/config_options.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "models/pipelines/stats_pipeline.hpp"

namespace climseg::app {
namespace {

class StatsCommand : public Command {
 public:
  std::string name() const override { return "stats"; }
  std::string summary() const override {
    return "Per-channel count, mean, std, min, max (and percentiles) of an archive, for normalization";
  }
  int order() const override { return 20; }

  void setup(CLI::App& app) override {
    options_.setup(app, pipelines::StatsConfig::cli_aliases(), pipelines::StatsConfig{}.to_json());
    app.get_option("--fill")->check(CLI::IsMember({"mask", "skip", "error"}));
    app.footer(
        "Moments are merged across samples and ranks with Chan et al.'s pairwise update, so 'mpirun -n P' gives the\n"
        "serial result (to rounding). Fill, missing and out-of-range values are left out.\n"
        "--config FILE takes a statistics file of an earlier run (its \"config\") or keys set by hand.");
  }

  int run(const GlobalOptions& global) override {
    const Comm world = Comm::world();
    const pipelines::StatsConfig cfg = pipelines::StatsConfig::from_json(options_.resolve({}));
    if (options_.print()) {
      if (world.is_root()) std::cout << cfg.to_json().dump(2) << "\n";
      return 0;
    }
    const pipelines::StatsReport r = pipelines::run_stats(cfg, world, {.progress = !global.no_progress});
    if (!world.is_root()) return 0;
    if (cfg.out == "-") {
      std::cout << r.json.dump(2) << "\n";
      return 0;
    }
    for (const io::ChannelStat& c : r.stats.channels)
      std::cout << fmt::format("{:<10} count {:>12}  mean {:>12.6g}  std {:>12.6g}  min {:>12.6g}  max {:>12.6g}{}\n",
                               c.name, c.count, c.mean, c.std, c.min, c.max, c.units.empty() ? "" : "  " + c.units);
    log::info("wrote {}", cfg.out);
    return 0;
  }

 private:
  ConfigOptions options_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(StatsCommand)
}  // namespace climseg::app
