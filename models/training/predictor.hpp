// Running a trained model over an archive: `climseg predict` (CF-NetCDF masks and probabilities,
// one output per input file, streamed so memory stays bounded) and `climseg evaluate` (confusion
// matrix and scores against labels). Under MPI each rank takes a contiguous block of time steps
// (over all files in time order); an output shared by ranks is assembled from their parts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "core/stage_times.hpp"
#include "models/training/metrics.hpp"
#include "models/training/model_io.hpp"
#include "nn/precision.hpp"
#include "readers/run_key.hpp"
#include "readers/sample.hpp"

namespace climseg::training {

// BatchNorm statistics at inference. `running`: the stored running averages (PyTorch's eval mode,
// what a checkpoint's BatchNorm was meant for). `batch`: each sample's own statistics, as
// PyTorch's train-mode forward computes them (nothing is updated): for checkpoints whose running
// statistics do not match their weights, as ClimateNet's published one (docs/training.md).
enum class BatchNormStats { running, batch };
BatchNormStats parse_batchnorm(const std::string& name);  // "running", "batch"; UsageError otherwise
const char* batchnorm_name(BatchNormStats b);
// What the outputs record: "running statistics (eval mode)" or "batch statistics of each sample ...".
std::string batchnorm_description(BatchNormStats b);

// Cells where an input value is missing (fill value, NaN, outside valid_range). `mask`: the
// network sees the channel's training mean there (0 once normalised) and the cell gets _FillValue
// in class_mask and the probabilities. `mean`: the same input, but the cell gets a class like any
// other (what climseg did before --fill-policy: a guess, recorded in the output). `error`: refused, naming the file,
// variable, step and count.
enum class MissingPolicy { mask, mean, error };
MissingPolicy parse_missing_policy(const std::string& name);  // "mask", "mean", "error"
const char* missing_policy_name(MissingPolicy p);

struct PredictOptions {
  std::vector<std::string> inputs;
  std::filesystem::path out_dir;
  std::string channels;  // --channels: specs of some or all model channels by name (ModelBundle::input_specs)
  std::map<std::string, std::string> units;  // --units VAR=UNITS: overrides files' units attributes
  bool probabilities = false;                // also write prob_<class> variables
  // An output that exists is kept when its rerun key (readers/run_key.hpp: `key_config`, the model's
  // SHA-256, its input files, climseg's version) equals this run's; otherwise `rerun` says.
  io::Rerun rerun = io::Rerun::keep_matching;
  nlohmann::json key_config = nlohmann::json::object();  // the options that determine the outputs
  // Run the network on the model's training grid (ModelBundle::training_grid): each sample's
  // channels regridded to it (geo::Regridder: Fourier in periodic longitude, linear in latitude),
  // the class probabilities regridded back to the archive's grid and clamped to [0, 1], then argmax.
  // A UsageError naming the model when it records no training grid.
  bool regrid = false;
  BatchNormStats batchnorm = BatchNormStats::running;
  MissingPolicy missing = MissingPolicy::mask;
  std::string suffix = ".climseg.nc";
  // The convolutions' arithmetic (nn/precision.hpp): bf16 inputs with fp32 sums on AVX512-BF16.
  nn::Precision precision = nn::Precision::fp32;
  // Read step t+1 and write step t-1 on background threads while step t computes (the outputs are
  // the same bytes either way); false does each in turn on the calling thread (`--no-overlap`).
  bool overlap = true;
};

struct PredictReport {
  int64_t samples = 0;               // predicted by this rank
  int64_t files_written = 0;         // by this rank
  int64_t files_skipped = 0;         // already complete
  int64_t missing_cells = 0;         // cells (over this rank's steps) with a missing input value
  int64_t steps_with_missing = 0;    // this rank's steps with any
  std::vector<std::string> outputs;  // this rank's output paths
  StageTimes times;                  // this rank's reading, compute and writing
};

PredictReport predict(const ModelBundle& model, const PredictOptions& options, const Comm& comm);

// How GridPredictor runs the network (the options of `climseg predict` that apply to one sample).
struct GridPredictorOptions {
  BatchNormStats batchnorm = BatchNormStats::running;
  nn::Precision precision = nn::Precision::fp32;
  // predict --regrid: the network runs on this grid (the model's training grid), each sample's
  // channels regridded to it and the probabilities back to the sample's grid.
  std::optional<geo::Grid> net_grid;
};

// Class probabilities of lat-lon samples on one grid, one sample at a time: (K, H, W) after softmax,
// the network compiled once for the grid (padded to its size multiple). For callers that bring their
// own samples: prediction on unstructured columns remaps them to a grid first (column_predict.hpp),
// the Python module (apps/python) runs xarray data through it. The same arithmetic as predict().
class GridPredictor {
 public:
  GridPredictor(const ModelBundle& model, const geo::Grid& grid, const GridPredictorOptions& options = {});
  ~GridPredictor();
  GridPredictor(const GridPredictor&) = delete;
  GridPredictor& operator=(const GridPredictor&) = delete;
  // `s`: the model's channels (C, H, W) on the grid, physical values (normalised here), with its
  // valid mask when some are missing.
  Tensor probabilities(const io::Sample& s);
  // The same without a copy: (K, rows(), cols()) in the predictor's own buffer (rows and columns
  // beyond the sample's H, W are padding), valid until the next call.
  const float* probabilities_view(const io::Sample& s);
  int64_t rows() const;
  int64_t cols() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Cells of a sample where any channel is missing (1 in `out`, H*W); returns how many. With
// MissingPolicy::error a sample with any is refused (Error naming its file, step and channels).
int64_t missing_cells(const io::Sample& s, MissingPolicy policy, std::vector<uint8_t>& out);

struct EvaluateOptions {
  std::vector<std::string> inputs;
  std::string channels;  // as in PredictOptions
  std::map<std::string, std::string> units;
  std::string labels = "auto";  // label source (archive syntax)
  BatchNormStats batchnorm = BatchNormStats::running;
  // mask: cells with a missing input are left out of the scores (ConfusionMatrix counts them).
  MissingPolicy missing = MissingPolicy::mask;
};

// The confusion matrix over the whole archive, reduced over the ranks of comm; `missing_cells`
// (when not null) gets the number of cells with a missing input value, over every rank.
ConfusionMatrix evaluate(const ModelBundle& model, const EvaluateOptions& options, const Comm& comm,
                         int64_t* missing_cells = nullptr);

}  // namespace climseg::training
