// `climseg bench synth`: seconds to generate one synthetic step (16 CAM5 channels + labels, optionally
// 3-D columns) and to write it, against this machine's memory-bandwidth floor (models/bench/synth.hpp).
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/command.hpp"
#include "core/isa.hpp"
#include "core/mpi.hpp"
#include "models/bench/synth.hpp"

namespace climseg::app {
namespace {

class BenchSynthCommand : public Command {
 public:
  std::string name() const override { return "synth"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "Time synthetic-step generation and writing against the memory-bandwidth floor";
  }
  void setup(CLI::App& app) override {
    app.add_option("--grid", o_.grid, "HxW")->default_val("768x1152");
    app.add_option("--repeat", o_.repeat, "Timed steps (median reported)")->default_val(5)->check(CLI::PositiveNumber);
    app.add_flag("--levels", o_.levels, "Also time the 3-D Q, U, V columns on 10 pressure levels");
    app.add_option("--tmp", o_.tmp, "Folder for the write timing (default: the system temp folder)");
    app.footer(
        "One JSON object: grid, threads, generate_s (median per step), columns_s, write_deflate1_s, write_raw_s,\n"
        "fill_s (writing the same 16-channel bytes once: the memory-bandwidth floor) and generate_vs_fill.");
  }

  int run(const GlobalOptions&) override {
    if (!Comm::world().is_root()) return 0;
    nlohmann::ordered_json j = bench::bench_synth(o_);
    j["isa"] = isa_name(active_isa());
    std::cout << j.dump() << "\n";
    return 0;
  }

 private:
  bench::SynthBenchOptions o_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchSynthCommand)
}  // namespace climseg::app
