// `climseg train --config train.json [--section.key value ...]`: train a segmentation network.
#include <iostream>

#include "apps/command.hpp"
#include "apps/config_options.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "models/training/trainer.hpp"

namespace climseg::app {
namespace {

class TrainCommand : public Command {
 public:
  std::string name() const override { return "train"; }
  std::string summary() const override {
    return "Train a segmentation network (CGNet, U-Net, DeepLabv3+) on an archive";
  }
  int order() const override { return 50; }
  bool accepts_extra_args() const override { return true; }

  void setup(CLI::App& app) override {
    options_.setup(app, {}, training::TrainConfig{}.to_json(), "-c,--config");
    app.footer(
        "Every configuration key can be set on the command line: --epochs 5, --optimizer.lr 3e-4,\n"
        "--data.train 'archive/*.nc', --model.type unet, --resume auto, ...\n"
        "Writes <checkpoint_dir>/last.h5, best.h5 and metrics.jsonl.");
  }

  int run(const GlobalOptions& global) override {
    const nlohmann::json doc = options_.resolve(global.extra_args);
    training::TrainConfig cfg = training::TrainConfig::from_json(doc);
    if (options_.print()) {
      if (Comm::world().is_root()) std::cout << cfg.to_json().dump(2) << "\n";
      return 0;
    }
    training::TrainResult r = training::train(cfg, Comm::world());
    if (Comm::world().is_root()) {
      std::cout << nlohmann::json{{"steps", r.steps},
                                  {"skipped_steps", r.skipped_steps},
                                  {"last_loss", r.last_loss},
                                  {"stopped_by_time", r.stopped_by_time},
                                  {"last_checkpoint", r.last_checkpoint},
                                  {"best_checkpoint", r.best_checkpoint},
                                  {"validation", r.last_validation}}
                       .dump()
                << "\n";
    }
    return 0;
  }

 private:
  ConfigOptions options_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(TrainCommand)
}  // namespace climseg::app
