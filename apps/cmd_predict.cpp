// `climseg predict --model CKPT --in ARCHIVE --out DIR`: class masks (and probabilities) per time step.
#include <iostream>
#include <regex>

#include "apps/command.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "models/training/column_predict.hpp"
#include "models/training/predictor.hpp"
#include "nn/precision.hpp"
#include "readers/column_file.hpp"

namespace climseg::app {
namespace {

class PredictCommand : public Command {
 public:
  std::string name() const override { return "predict"; }
  std::string summary() const override { return "Predict class masks over an archive with a trained model"; }
  int order() const override { return 60; }

  void setup(CLI::App& app) override {
    app_ = &app;
    app.add_option("-m,--model", model_, "climseg checkpoint (.h5) or ClimateNet's weights file")->required();
    app.add_option("-i,--in", o_.inputs, "Input files, directories, globs or @lists")->required();
    app.add_option("-o,--out", out_, "Output directory (one <input stem>.climseg.nc per input file)")->required();
    app.add_option("--channels", o_.channels,
                   "Variables of some or all of the model's channels, matched by channel name in any order (e.g. "
                   "TMQ=IWV,PSL=SLP); the others are found by name, CF standard name and level, or a known name");
    app.add_option("--units", units_,
                   "VAR=UNITS, repeatable: the units of a variable whose units attribute is missing or wrong");
    app.add_flag("--probabilities", o_.probabilities, "Also write prob_<class> float variables");
    auto* overwrite = app.add_flag("--overwrite", overwrite_,
                                   "Redo every output that exists (by default one is kept when it was made from the "
                                   "same inputs, model and options by the same climseg version, and redone otherwise)");
    app.add_flag("--no-overwrite", no_overwrite_,
                 "Stop, naming the difference, rather than redo an output made otherwise")
        ->excludes(overwrite);
    app.add_option("--remap", remap_,
                   "Unstructured inputs (CAM-SE ncol, SCRIP, UGRID): the lat-lon grid HxW the network runs on "
                   "(default: the model's training grid); outputs on the native columns");
    app.add_option("--remap-method", remap_method_, "Columns to the grid: bilinear or conservative (back: bilinear)")
        ->check(CLI::IsMember({"bilinear", "conservative"}))
        ->default_val("bilinear");
    app.add_option("--batchnorm", batchnorm_,
                   "BatchNorm statistics: running (the checkpoint's, PyTorch's eval mode) or batch (each sample's "
                   "own, PyTorch's train-mode forward; for ClimateNet's published weights, docs/training.md)")
        ->check(CLI::IsMember({"running", "batch"}))
        ->capture_default_str();
    app.add_option("--fill-policy", fill_policy_,
                   "Cells where an input value is missing: mask (_FillValue in class_mask and the probabilities), "
                   "mean (filled with the model's training mean and classified), error (refused)")
        ->check(CLI::IsMember({"mask", "mean", "error"}))
        ->capture_default_str();
    app.add_flag("--regrid", o_.regrid,
                 "Run the network at the resolution the model was trained at: inputs regridded to it (Fourier in "
                 "longitude, linear in latitude), class probabilities regridded back, masks on the input grid");
    app.add_option("--precision", precision_,
                   "Convolution arithmetic: fp32 (default), or bf16 (AVX512-BF16: bf16 inputs, fp32 sums)")
        ->capture_default_str()
        ->check(CLI::IsMember({"fp32", "bf16"}));
  }

  int run(const GlobalOptions&) override {
    o_.out_dir = out_;
    o_.precision = nn::parse_precision(precision_);
    nn::require_precision(o_.precision);  // before anything is made
    check_output_folder(out_);            // made once the model and the archive are read
    o_.rerun = overwrite_      ? io::Rerun::overwrite
               : no_overwrite_ ? io::Rerun::refuse_different
                               : io::Rerun::keep_matching;
    // The model enters the key by its checksum, not its path; --precision by its value.
    o_.key_config = option_values(*app_, {"--model", "--in", "--out", "--overwrite", "--no-overwrite"});
    o_.units = io::parse_units_overrides(units_);
    o_.batchnorm = training::parse_batchnorm(batchnorm_);
    o_.missing = training::parse_missing_policy(fill_policy_);
    training::ModelBundle m = training::load_model(model_);
    if (o_.regrid && !m.training_grid)
      fail_usage("{}: --regrid: the model records no training grid (a checkpoint from before climseg stored it)",
                 model_);
    Comm world = Comm::world();
    log::info("{} {} ({}, channels {}, BatchNorm {} statistics) on {} rank(s)", m.kind, model_, m.config.type,
              fmt::join(m.config.channels, ","), training::batchnorm_name(o_.batchnorm), world.size());
    training::PredictReport r;
    if (io::ColumnArchive::is_columns(o_.inputs)) {
      if (o_.precision != nn::Precision::fp32)
        fail_usage("--precision {}: fp32 only for unstructured inputs (predict --remap)", precision_);
      // The column path (predict --remap) feeds the channels as the files hold them, with the
      // checkpoint's running statistics: options it would ignore are refused, not dropped.
      if (o_.batchnorm != training::BatchNormStats::running)
        fail_usage("--batchnorm {}: running only for unstructured inputs (predict --remap)", batchnorm_);
      if (!units_.empty()) fail_usage("--units: not supported for unstructured inputs (predict --remap)");
      if (o_.missing != training::MissingPolicy::mask)
        fail_usage("--fill-policy {}: mask only for unstructured inputs (predict --remap)", fill_policy_);
      r = training::predict_columns(m, column_options(m), world);
    } else {
      if (!remap_.empty())
        fail_usage("--remap: for unstructured inputs (the input is on a lat-lon grid; see --regrid)");
      r = training::predict(m, o_, world);
    }
    int64_t written = world.sum(r.files_written), skipped = world.sum(r.files_skipped), samples = world.sum(r.samples);
    const int64_t missing = world.sum(r.missing_cells), missing_steps = world.sum(r.steps_with_missing);
    log::info("predicted {} time steps: {} files written, {} already complete, in {}", samples, written, skipped, out_);
    if (missing > 0)
      log::info("{} cells of {} time steps had a missing input value: {}", missing, missing_steps,
                o_.missing == training::MissingPolicy::mask ? "_FillValue in class_mask and the probabilities"
                                                            : "filled with the model's training mean and classified");
    return 0;
  }

 private:
  training::ColumnPredictOptions column_options(const training::ModelBundle& m) const {
    training::ColumnPredictOptions c;
    c.inputs = o_.inputs;
    c.out_dir = out_;
    c.probabilities = o_.probabilities;
    c.rerun = o_.rerun;
    c.key_config = o_.key_config;
    c.suffix = o_.suffix;
    c.method = remap_method_ == "conservative" ? geo::RemapMethod::conservative : geo::RemapMethod::bilinear;
    for (size_t a = 0, b; a <= o_.channels.size() && !o_.channels.empty(); a = b + 1) {
      b = std::min(o_.channels.find(',', a), o_.channels.size());
      c.channels.push_back(o_.channels.substr(a, b - a));
    }
    std::smatch hw;
    if (!remap_.empty()) {
      if (!std::regex_match(remap_, hw, std::regex(R"((\d+)x(\d+))"))) fail_usage("--remap {}: expected HxW", remap_);
      c.grid = geo::Grid::cam(std::stoll(hw[1]), std::stoll(hw[2]));
    } else if (m.training_grid) {
      c.grid = *m.training_grid;
    } else {
      fail_usage("{}: the input has unstructured columns: give --remap HxW (the model records no training grid)",
                 model_);
    }
    if (c.grid.height() < 3 || c.grid.width() < 3) fail_usage("--remap {}: too small a grid", remap_);
    return c;
  }

  std::string model_, out_, remap_, remap_method_, precision_ = "fp32";
  std::vector<std::string> units_;
  std::string batchnorm_ = "running", fill_policy_ = "mask";
  training::PredictOptions o_;
  bool overwrite_ = false, no_overwrite_ = false;
  CLI::App* app_ = nullptr;
};

class EvaluateCommand : public Command {
 public:
  std::string name() const override { return "evaluate"; }
  std::string summary() const override {
    return "Score a model against labels: confusion matrix, IoU, precision, recall, F1";
  }
  int order() const override { return 65; }

  void setup(CLI::App& app) override {
    app.add_option("-m,--model", model_, "climseg checkpoint (.h5) or ClimateNet's weights file")->required();
    app.add_option("-i,--in", o_.inputs, "Input files, directories, globs or @lists (with labels)")->required();
    app.add_option("--labels", o_.labels, "Label source: auto (LABELS or DeepCAM labels_0) or a variable spec");
    app.add_option("--channels", o_.channels,
                   "Variables of some or all of the model's channels, matched by channel name (as for predict)");
    app.add_option("--units", units_, "VAR=UNITS, repeatable: the units of a variable (as for predict)");
    app.add_option("--batchnorm", batchnorm_, "BatchNorm statistics: running or batch (as for predict)")
        ->check(CLI::IsMember({"running", "batch"}))
        ->capture_default_str();
    app.add_option("--fill-policy", fill_policy_,
                   "Cells where an input value is missing: mask (left out of the scores), mean (filled with the "
                   "model's training mean and scored), error (refused)")
        ->check(CLI::IsMember({"mask", "mean", "error"}))
        ->capture_default_str();
    app.add_option("--json", json_out_, "Also write the scores as JSON to this file ('-' for stdout)");
  }

  int run(const GlobalOptions&) override {
    o_.units = io::parse_units_overrides(units_);
    o_.batchnorm = training::parse_batchnorm(batchnorm_);
    o_.missing = training::parse_missing_policy(fill_policy_);
    training::ModelBundle m = training::load_model(model_);
    Comm world = Comm::world();
    int64_t missing = 0;
    training::ConfusionMatrix cm = training::evaluate(m, o_, world, &missing);
    if (!world.is_root()) return 0;
    nlohmann::json j = cm.to_json(m.config.classes);
    j["model"] = model_;
    j["batchnorm"] = training::batchnorm_name(o_.batchnorm);
    j["fill_policy"] = training::missing_policy_name(o_.missing);
    j["missing_input_cells"] = missing;
    if (missing > 0)
      log::info("{} cells had a missing input value: {}", missing,
                o_.missing == training::MissingPolicy::mask ? "left out of the scores" : "scored");
    std::cout << fmt::format("{:<24} {:>8} {:>8} {:>8} {:>8} {:>10}\n", "class", "IoU", "prec", "recall", "F1",
                             "IoU(area)");
    for (int64_t c = 0; c < cm.classes(); ++c)
      std::cout << fmt::format("{:<24} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} {:>10.4f}\n",
                               m.config.classes[static_cast<size_t>(c)], cm.iou(c), cm.precision(c), cm.recall(c),
                               cm.f1(c), cm.iou(c, true));
    std::cout << fmt::format(
        "mean IoU {:.4f} (events {:.4f}); area-weighted {:.4f}; DeepCAM mean IoU {:.4f}; {} samples\n", cm.mean_iou(0),
        cm.mean_iou(1), cm.mean_iou(0, true), cm.deepcam_iou(), cm.samples());
    if (json_out_ == "-")
      std::cout << j.dump(2) << "\n";
    else if (!json_out_.empty())
      write_file_atomically(json_out_, j.dump(2) + "\n");
    return 0;
  }

 private:
  std::string model_, json_out_;
  std::vector<std::string> units_;
  std::string batchnorm_ = "running", fill_policy_ = "mask";
  training::EvaluateOptions o_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(PredictCommand)
CLIMSEG_REGISTER_COMMAND(EvaluateCommand)
}  // namespace climseg::app
