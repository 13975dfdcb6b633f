// `climseg bench KIND`: the parent of the benchmarks; each kind lives in its own bench_<kind>.cpp.
#include "apps/command.hpp"

namespace climseg::app {
namespace {

class BenchCommand : public Command {
 public:
  std::string name() const override { return "bench"; }
  std::string summary() const override {
    return "Measure speed against this machine's roofs and against peers (JSON lines on stdout)";
  }
  int order() const override { return 90; }
  void setup(CLI::App& app) override {
    app.require_subcommand(1);
    app.footer("Each benchmark prints one JSON object per line; see docs/benchmarks.md.");
  }
  int run(const GlobalOptions&) override { return 2; }
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchCommand)
}  // namespace climseg::app
