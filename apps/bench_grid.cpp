// `climseg bench grid`: seconds and memory to set up an unstructured grid (triangulation, neighbours,
// cells, areas) and its remap weights to and from a lat-lon grid, and to apply them
// (models/bench/grid.hpp).
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/command.hpp"
#include "core/mpi.hpp"
#include "models/bench/grid.hpp"

namespace climseg::app {
namespace {

class BenchGridCommand : public Command {
 public:
  std::string name() const override { return "grid"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "Time unstructured-grid set-up and remap weights (ne120np4 by default)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--grid", o_.grid, "Cubed sphere: neXnpY or neXpgY")->default_val("ne120np4");
    app.add_option("--latlon", o_.latlon, "Lat-lon grid of the weights, HxW (CAM layout)")->default_val("768x1152");
    app.add_flag("--conservative", o_.conservative, "Also time first-order conservative weights both ways");
    app.footer(
        "One JSON object: columns, threads, grid_s (nodes, triangulation, neighbours, cells, areas), "
        "bilinear_to_latlon_s,\n"
        "bilinear_to_columns_s, conservative_*_s, setup_s (grid and bilinear weights both ways), apply_*_s (one "
        "field)\n"
        "and peak_rss_mb (the process's high-water mark).");
  }

  int run(const GlobalOptions&) override {
    if (!Comm::world().is_root()) return 0;
    std::cout << bench::bench_grid(o_).dump(2) << "\n";
    return 0;
  }

 private:
  bench::GridBenchOptions o_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchGridCommand)
}  // namespace climseg::app
