// `climseg export --model CKPT --out FILE`: a weights-only copy of a training checkpoint (no
// optimizer state: about a third of the size) that predict, evaluate and train's init load alike.
#include <filesystem>
#include <iostream>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "models/training/model_io.hpp"
#include "nn/checkpoint.hpp"

namespace climseg::app {
namespace {

class ExportCommand : public Command {
 public:
  std::string name() const override { return "export"; }
  std::string summary() const override { return "Weights-only copy of a checkpoint (for predict/evaluate)"; }
  int order() const override { return 62; }

  void setup(CLI::App& app) override {
    app.add_option("-m,--model", model_, "climseg checkpoint (.h5) written by climseg train")->required();
    app.add_option("-o,--out", out_, "Output file (.h5), written atomically")->required();
  }

  int run(const GlobalOptions&) override {
    training::ModelBundle m = training::load_model(model_);
    if (m.kind != "climseg checkpoint")
      fail_usage("--model {}: not a climseg checkpoint ({}); export copies climseg checkpoints", model_, m.kind);
    if (std::filesystem::weakly_canonical(model_) == std::filesystem::weakly_canonical(out_))
      fail_usage("--out {}: is the input checkpoint itself", out_);
    nn::CheckpointInfo info = nn::load_checkpoint(model_, *m.params);  // attributes: config, classes, ...
    nn::save_checkpoint(out_, *m.params, nullptr, info);
    std::cout << fmt::format("wrote {} ({} parameters, step {}, {:.2f} MB; input {:.2f} MB)\n", out_, m.params->count(),
                             info.step, double(std::filesystem::file_size(out_)) / 1e6,
                             double(std::filesystem::file_size(model_)) / 1e6);
    return 0;
  }

 private:
  std::string model_, out_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(ExportCommand)
}  // namespace climseg::app
