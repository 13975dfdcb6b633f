// `climseg predict --model CKPT --in ARCHIVE --out DIR`: class masks (and probabilities) per time step.
#include <iostream>

#include "apps/command.hpp"
#include "apps/config_options.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "models/training/predict_config.hpp"

namespace climseg::app {
namespace {

class PredictCommand : public Command {
 public:
  std::string name() const override { return "predict"; }
  std::string summary() const override { return "Predict class masks over an archive with a trained model"; }
  int order() const override { return 60; }
  bool accepts_extra_args() const override { return true; }

  void setup(CLI::App& app) override {
    options_.setup(app, training::PredictConfig::cli_aliases(), training::PredictConfig{}.to_json());
  }

  int run(const GlobalOptions& global) override {
    const training::PredictConfig cfg = training::PredictConfig::from_json(options_.resolve(global.extra_args));
    const Comm world = Comm::world();
    if (options_.print()) {
      if (world.is_root()) std::cout << cfg.to_json().dump(2) << "\n";
      return 0;
    }
    const training::PredictRun r = training::run_predict(cfg, world);
    log::info("predicted {} time steps: {} files written, {} already complete, in {}", r.samples, r.files_written,
              r.files_skipped, cfg.out);
    if (r.missing_cells > 0)
      log::info("{} cells of {} time steps had a missing input value: {}", r.missing_cells, r.steps_with_missing,
                cfg.fill_policy == training::MissingPolicy::mask
                    ? "_FillValue in class_mask and the probabilities"
                    : "filled with the model's training mean and classified");
    return 0;
  }

 private:
  ConfigOptions options_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(PredictCommand)
}  // namespace climseg::app
