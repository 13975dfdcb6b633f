// `climseg bench label`: seconds per 768x1152 time step per core of the cyclone detector, with and
// without reading the files, against TECA's published run (models/bench/label.hpp).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/mpi.hpp"
#include "models/bench/label.hpp"

namespace climseg::app {
namespace {

class BenchLabel : public Command {
 public:
  std::string name() const override { return "label"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "Cyclone detector: seconds per 768x1152 step per core, I/O included and excluded, vs TECA";
  }
  void setup(CLI::App& app) override {
    app.add_option("--grid", grid_, "HxW of the synthetic CAM5-like archive")->capture_default_str();
    app.add_option("--steps", o_.steps, "Time steps to time (after one warm-up)")->capture_default_str();
    app.add_option("--dir", o_.dir, "Where to write the archive (default: a temporary folder, removed)");
    app.footer(
        "Writes a climseg synth archive (not timed), then times per step: reading the 9 channels the detector\n"
        "needs (U850, V850, UBOT, VBOT, PSL, T200, T500, Z200, Z1000), the candidates (vorticity, local\n"
        "maxima, closed contours, warm core, thickness), and the Kurth et al. mask around the tracked\n"
        "centres. core_s = wall seconds x threads. The files were just written, so reads hit the page cache.");
  }

  int run(const GlobalOptions&) override {
    if (!Comm::world().is_root()) return 0;
    long H = 0, W = 0;
    if (std::sscanf(grid_.c_str(), "%ldx%ld", &H, &W) != 2 || H < 16 || W < 16)
      fail_usage("--grid {}: expected HxW, e.g. 768x1152", grid_);
    if (o_.steps < 1) fail_usage("--steps must be >= 1");
    o_.height = H, o_.width = W;
    nlohmann::json j = bench::bench_label(o_);
    j["isa"] = isa_name(active_isa());
    std::cout << j.dump() << "\n";
    return 0;
  }

 private:
  bench::LabelBenchOptions o_;
  std::string grid_ = "768x1152";
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchLabel)
}  // namespace climseg::app
