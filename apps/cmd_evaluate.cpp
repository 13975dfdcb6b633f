// `climseg evaluate --model CKPT --in ARCHIVE`: scores of a model against an archive's labels.
#include <iostream>

#include "apps/command.hpp"
#include "apps/config_options.hpp"
#include "core/atomic_file.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "models/training/predict_config.hpp"

namespace climseg::app {
namespace {

class EvaluateCommand : public Command {
 public:
  std::string name() const override { return "evaluate"; }
  std::string summary() const override {
    return "Score a model against labels: confusion matrix, IoU, precision, recall, F1";
  }
  int order() const override { return 65; }
  bool accepts_extra_args() const override { return true; }

  void setup(CLI::App& app) override {
    options_.setup(app, training::EvaluateConfig::cli_aliases(), training::EvaluateConfig{}.to_json());
  }

  int run(const GlobalOptions& global) override {
    const training::EvaluateConfig cfg = training::EvaluateConfig::from_json(options_.resolve(global.extra_args));
    const Comm world = Comm::world();
    if (options_.print()) {
      if (world.is_root()) std::cout << cfg.to_json().dump(2) << "\n";
      return 0;
    }
    const training::EvaluateRun r = training::run_evaluate(cfg, world);
    if (!world.is_root()) return 0;
    const training::ConfusionMatrix& cm = r.matrix;
    if (r.missing_cells > 0)
      log::info("{} cells had a missing input value: {}", r.missing_cells,
                cfg.fill_policy == training::MissingPolicy::mask ? "left out of the scores" : "scored");
    std::cout << fmt::format("{:<24} {:>8} {:>8} {:>8} {:>8} {:>10}\n", "class", "IoU", "prec", "recall", "F1",
                             "IoU(area)");
    for (int64_t c = 0; c < cm.classes(); ++c)
      std::cout << fmt::format("{:<24} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} {:>10.4f}\n",
                               r.classes[static_cast<size_t>(c)], cm.iou(c), cm.precision(c), cm.recall(c), cm.f1(c),
                               cm.iou(c, true));
    std::cout << fmt::format(
        "mean IoU {:.4f} (events {:.4f}); area-weighted {:.4f}; DeepCAM mean IoU {:.4f}; {} samples\n", cm.mean_iou(0),
        cm.mean_iou(1), cm.mean_iou(0, true), cm.deepcam_iou(), cm.samples());
    if (cfg.json == "-")
      std::cout << r.scores.dump(2) << "\n";
    else if (!cfg.json.empty())
      write_file_atomically(cfg.json, r.scores.dump(2) + "\n");
    return 0;
  }

 private:
  ConfigOptions options_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(EvaluateCommand)
}  // namespace climseg::app
