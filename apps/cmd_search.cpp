// `climseg search --config search.json [--key value ...]`: hyper-parameter search, many trainings at
// once over groups of MPI ranks, with successive halving.
#include <iostream>

#include "apps/command.hpp"
#include "core/atomic_file.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/mpi.hpp"
#include "models/search/search.hpp"
#include "models/training/train_config.hpp"

namespace climseg::app {
namespace {

class SearchCommand : public Command {
 public:
  std::string name() const override { return "search"; }
  std::string summary() const override {
    return "Hyper-parameter search: trials trained side by side on groups of ranks, with successive halving";
  }
  int order() const override { return 52; }
  bool accepts_extra_args() const override { return true; }

  void setup(CLI::App& app) override {
    app.add_option("-c,--config", config_, "Search configuration (JSON); see docs/search.md")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--stop-after", stop_after_,
                   "Hand out at most N jobs (trial rungs) in this run, then stop; rerun to continue")
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--print-config", print_, "Print the effective search configuration and exit");
    app.footer(
        "Search keys can be set on the command line: --out_dir DIR, --group_size 4, --strategy.seed 7,\n"
        "--strategy.trials 64. A rerun of the same command resumes from DIR/results.jsonl.\n"
        "Writes DIR/trials.csv, trials.jsonl, results.jsonl, best/model.h5, best/train.json, plots/*.png.");
  }

  int run(const GlobalOptions& global) override {
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(read_file(config_));
    } catch (const nlohmann::json::exception& e) {
      fail_usage("{}: not valid JSON: {}", config_, e.what());
    }
    config::apply_overrides(doc, config::parse_override_args(global.extra_args), nlohmann::json::object());
    const std::filesystem::path base = std::filesystem::path(config_).parent_path();
    search::SearchConfig cfg = search::SearchConfig::from_json(doc, base.empty() ? "." : base);
    const Comm world = Comm::world();
    if (print_) {
      if (world.is_root()) {
        nlohmann::json j = cfg.to_json();
        j["out_dir"] = cfg.out_dir;
        std::cout << j.dump(2) << "\n";
      }
      return 0;
    }
    search::SearchOptions options;
    options.stop_after_jobs = stop_after_;
    search::SearchSummary s = search::run_search(cfg, world, options);
    if (world.is_root()) std::cout << s.to_json().dump() << "\n";
    return 0;
  }

 private:
  std::string config_;
  int64_t stop_after_ = 0;
  bool print_ = false;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(SearchCommand)
}  // namespace climseg::app
