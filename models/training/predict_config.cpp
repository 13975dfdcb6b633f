// `climseg predict` and `climseg evaluate`: configurations and runs.
#include "models/training/predict_config.hpp"

#include <algorithm>
#include <regex>

#include "core/log.hpp"
#include "core/timer.hpp"
#include "models/training/column_predict.hpp"
#include "models/training/model_io.hpp"
#include "readers/archive.hpp"
#include "readers/column_file.hpp"

namespace climseg::training {
using nlohmann::json;

namespace {

constexpr const char* kPredict = "predict config";
constexpr const char* kEvaluate = "evaluate config";

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  for (size_t a = 0, b; a <= text.size() && !text.empty(); a = b + 1) {
    b = std::min(text.find(',', a), text.size());
    out.push_back(text.substr(a, b - a));
  }
  return out;
}

ColumnPredictOptions column_options(const PredictConfig& cfg, const PredictOptions& o, const ModelBundle& m) {
  ColumnPredictOptions c;
  c.inputs = o.inputs;
  c.out_dir = cfg.out;
  c.probabilities = o.probabilities;
  c.rerun = o.rerun;
  c.key_config = o.key_config;
  c.suffix = o.suffix;
  c.method = cfg.remap_method;
  c.channels = split_commas(cfg.channels);
  std::smatch hw;
  if (!cfg.remap.empty()) {
    if (!std::regex_match(cfg.remap, hw, std::regex(R"((\d+)x(\d+))")))
      fail_usage("--remap {}: expected HxW", cfg.remap);
    c.grid = geo::Grid::cam(std::stoll(hw[1]), std::stoll(hw[2]));
  } else if (m.training_grid) {
    c.grid = *m.training_grid;
  } else {
    fail_usage("{}: the input has unstructured columns: give --remap HxW (the model records no training grid)",
               cfg.model);
  }
  if (c.grid.height() < 3 || c.grid.width() < 3) fail_usage("--remap {}: too small a grid", cfg.remap);
  return c;
}

}  // namespace

json PredictConfig::to_json() const {
  return {{"model", model},
          {"in", in},
          {"out", out},
          {"channels", channels},
          {"units", units},
          {"probabilities", probabilities},
          {"rerun", config::to_string(rerun)},
          {"remap", remap},
          {"remap_method", config::to_string(remap_method)},
          {"batchnorm", config::to_string(batchnorm)},
          {"fill_policy", config::to_string(fill_policy)},
          {"regrid", regrid},
          {"precision", config::to_string(precision)},
          {"overlap", config::to_string(overlap)}};
}

PredictConfig PredictConfig::from_json(const json& j) {
  PredictConfig c;
  config::Reader r(j, kPredict);
  r.get("model", c.model);
  r.get_list("in", c.in);
  r.get("out", c.out);
  r.get("channels", c.channels);
  r.get_list("units", c.units);
  r.get("probabilities", c.probabilities);
  r.get_enum("rerun", c.rerun);
  r.get("remap", c.remap);
  r.get_enum("remap_method", c.remap_method);
  r.get_enum("batchnorm", c.batchnorm);
  r.get_enum("fill_policy", c.fill_policy);
  r.get("regrid", c.regrid);
  r.get_enum("precision", c.precision);
  r.get_enum("overlap", c.overlap);
  r.finish(PredictConfig{}.to_json());
  if (c.model.empty()) r.fail("model", "is required (--model FILE)");
  if (c.in.empty()) r.fail("in", "is required (--in FILES)");
  if (c.out.empty()) r.fail("out", "is required (--out DIR)");
  return c;
}

const std::vector<config::Alias>& PredictConfig::cli_aliases() {
  using K = config::Alias::Kind;
  static const std::vector<config::Alias> a = {
      {"-m,--model", "model", "climseg checkpoint (.h5) or ClimateNet's weights file"},
      {"-i,--in", "in", "Input files, directories, globs or @lists", K::list},
      {"-o,--out", "out", "Output directory (one <input stem>.climseg.nc per input file)"},
      {"--channels", "channels",
       "Variables of some or all of the model's channels, matched by channel name in any order (e.g. TMQ=IWV,PSL=SLP); "
       "the others are found by name, CF standard name and level, or a known name"},
      {"--units", "units", "VAR=UNITS, repeatable: the units of a variable whose units attribute is missing or wrong",
       K::list},
      {"--probabilities", "probabilities", "Also write prob_<class> float variables", K::flag},
      {"--overwrite", "rerun",
       "Redo every output that exists (by default one is kept when it was made from the same inputs, model and "
       "options by the same climseg version, and redone otherwise)",
       K::set, "overwrite"},
      {"--no-overwrite", "rerun", "Stop, naming the difference, rather than redo an output made otherwise", K::set,
       "refuse"},
      {"--remap", "remap",
       "Unstructured inputs (CAM-SE ncol, SCRIP, UGRID): the lat-lon grid HxW the network runs on (default: the "
       "model's training grid); outputs on the native columns"},
      {"--remap-method", "remap_method", "Columns to the grid: bilinear or conservative (back: bilinear)"},
      {"--batchnorm", "batchnorm",
       "BatchNorm statistics: running (the checkpoint's, PyTorch's eval mode) or batch (each sample's own, PyTorch's "
       "train-mode forward; for ClimateNet's published weights, docs/training.md)"},
      {"--fill-policy", "fill_policy",
       "Cells where an input value is missing: mask (_FillValue in class_mask and the probabilities), mean (filled "
       "with the model's training mean and classified), error (refused)"},
      {"--regrid", "regrid",
       "Run the network at the resolution the model was trained at: inputs regridded to it (Fourier in longitude, "
       "linear in latitude), class probabilities regridded back, masks on the input grid",
       K::flag},
      {"--precision", "precision",
       "Convolution arithmetic: fp32 (default), or bf16 (AVX512-BF16: bf16 inputs, fp32 sums)"},
      {"--overlap", "overlap",
       "Always read step t+1 and write step t-1 on background threads while step t is predicted (by default only "
       "when they have cores of their own: the ranks on the node times --threads leave some free)",
       K::set, "on"},
      {"--no-overlap", "overlap",
       "Read, predict and write each step in turn (the outputs are the same bytes either way)", K::set, "off"},
  };
  return a;
}

PredictRun run_predict(const PredictConfig& cfg, const Comm& comm) {
  Stopwatch wall;
  PredictOptions o;
  o.inputs = cfg.in;
  o.out_dir = cfg.out;
  o.channels = cfg.channels;
  o.probabilities = cfg.probabilities;
  o.rerun = cfg.rerun;
  o.regrid = cfg.regrid;
  o.batchnorm = cfg.batchnorm;
  o.missing = cfg.fill_policy;
  o.precision = cfg.precision;
  o.overlap = io::background_io(cfg.overlap);
  nn::require_precision(o.precision);  // before anything is made
  check_output_folder(cfg.out);        // made once the model and the archive are read
  // The rerun key: every setting that can change an output. The model enters it by its checksum,
  // the inputs by their identities (readers/run_key.hpp), not by their paths.
  o.key_config = cfg.to_json();
  for (const char* k : {"model", "in", "out", "rerun", "overlap"}) o.key_config.erase(k);
  o.units = io::parse_units_overrides(cfg.units);
  ModelBundle m = load_model(cfg.model);
  if (o.regrid && !m.training_grid)
    fail_usage("{}: --regrid: the model records no training grid (a checkpoint from before climseg stored it)",
               cfg.model);
  log::info("{} {} ({}, channels {}, BatchNorm {} statistics) on {} rank(s)", m.kind, cfg.model, m.config.type,
            fmt::join(m.config.channels, ","), batchnorm_name(o.batchnorm), comm.size());
  PredictRun run;
  if (io::ColumnArchive::is_columns(o.inputs)) {
    if (o.precision != nn::Precision::fp32)
      fail_usage("--precision {}: fp32 only for unstructured inputs (predict --remap)",
                 nn::precision_name(o.precision));
    // The column path (predict --remap) feeds the channels as the files hold them, with the
    // checkpoint's running statistics: options it would ignore are refused, not dropped.
    if (o.batchnorm != BatchNormStats::running)
      fail_usage("--batchnorm {}: running only for unstructured inputs (predict --remap)", batchnorm_name(o.batchnorm));
    if (!cfg.units.empty()) fail_usage("--units: not supported for unstructured inputs (predict --remap)");
    if (o.missing != MissingPolicy::mask)
      fail_usage("--fill-policy {}: mask only for unstructured inputs (predict --remap)",
                 missing_policy_name(o.missing));
    run.report = predict_columns(m, column_options(cfg, o, m), comm);
  } else {
    if (!cfg.remap.empty())
      fail_usage("--remap: for unstructured inputs (the input is on a lat-lon grid; see --regrid)");
    run.report = predict(m, o, comm);
  }
  // Loading the model, opening the archive, collectives: the rest of this rank's wall time.
  StageTimes& t = run.report.times;
  t.setup_s = std::max(0.0, wall.seconds() - t.read_wait_s - t.compute_s - t.write_wait_s);
  const PredictReport& r = run.report;
  run.samples = comm.sum(r.samples);
  run.files_written = comm.sum(r.files_written);
  run.files_skipped = comm.sum(r.files_skipped);
  run.missing_cells = comm.sum(r.missing_cells);
  run.steps_with_missing = comm.sum(r.steps_with_missing);
  return run;
}

json EvaluateConfig::to_json() const {
  return {{"model", model},
          {"in", in},
          {"labels", labels},
          {"channels", channels},
          {"units", units},
          {"batchnorm", config::to_string(batchnorm)},
          {"fill_policy", config::to_string(fill_policy)},
          {"json", json}};
}

EvaluateConfig EvaluateConfig::from_json(const nlohmann::json& j) {
  EvaluateConfig c;
  config::Reader r(j, kEvaluate);
  r.get("model", c.model);
  r.get_list("in", c.in);
  r.get("labels", c.labels);
  r.get("channels", c.channels);
  r.get_list("units", c.units);
  r.get_enum("batchnorm", c.batchnorm);
  r.get_enum("fill_policy", c.fill_policy);
  r.get("json", c.json);
  r.finish(EvaluateConfig{}.to_json());
  if (c.model.empty()) r.fail("model", "is required (--model FILE)");
  if (c.in.empty()) r.fail("in", "is required (--in FILES)");
  return c;
}

const std::vector<config::Alias>& EvaluateConfig::cli_aliases() {
  using K = config::Alias::Kind;
  static const std::vector<config::Alias> a = {
      {"-m,--model", "model", "climseg checkpoint (.h5) or ClimateNet's weights file"},
      {"-i,--in", "in", "Input files, directories, globs or @lists (with labels)", K::list},
      {"--labels", "labels", "Label source: auto (LABELS or DeepCAM labels_0) or a variable spec"},
      {"--channels", "channels",
       "Variables of some or all of the model's channels, matched by channel name (as for predict)"},
      {"--units", "units", "VAR=UNITS, repeatable: the units of a variable (as for predict)", K::list},
      {"--batchnorm", "batchnorm", "BatchNorm statistics: running or batch (as for predict)"},
      {"--fill-policy", "fill_policy",
       "Cells where an input value is missing: mask (left out of the scores), mean (filled with the model's training "
       "mean and scored), error (refused)"},
      {"--json", "json", "Also write the scores as JSON to this file ('-' for stdout)"},
  };
  return a;
}

EvaluateRun run_evaluate(const EvaluateConfig& cfg, const Comm& comm) {
  EvaluateOptions o;
  o.inputs = cfg.in;
  o.labels = cfg.labels;
  o.channels = cfg.channels;
  o.units = io::parse_units_overrides(cfg.units);
  o.batchnorm = cfg.batchnorm;
  o.missing = cfg.fill_policy;
  ModelBundle m = load_model(cfg.model);
  EvaluateRun run;
  run.matrix = evaluate(m, o, comm, &run.missing_cells);
  run.classes = m.config.classes;
  json& j = run.scores;
  j = run.matrix.to_json(m.config.classes);
  j["model"] = cfg.model;
  j["batchnorm"] = batchnorm_name(o.batchnorm);
  j["fill_policy"] = missing_policy_name(o.missing);
  j["missing_input_cells"] = run.missing_cells;
  return run;
}

}  // namespace climseg::training
