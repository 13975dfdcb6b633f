// Prediction on unstructured columns (`climseg predict --remap GRID`): each step's channels remapped
// from the columns to a lat-lon grid, the network run there, the class probabilities remapped back to
// the columns, and class_mask the argmax of the remapped probabilities; outputs on the native columns
// (one CAM-SE-like column file per input file).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "geo/grid.hpp"
#include "geo/remap.hpp"
#include "models/training/predictor.hpp"

namespace climseg::training {

struct ColumnPredictOptions {
  std::vector<std::string> inputs;
  std::filesystem::path out_dir;
  std::vector<std::string> channels;  // variables in the model's order; empty: the model's channel names
  geo::Grid grid;                     // where the network runs
  geo::RemapMethod method = geo::RemapMethod::bilinear;  // columns -> grid (back: bilinear)
  bool probabilities = false;
  // An output that exists is kept when its rerun key (readers/run_key.hpp) equals this run's.
  io::Rerun rerun = io::Rerun::keep_matching;
  nlohmann::json key_config = nlohmann::json::object();
  std::string suffix = ".climseg.nc";
};

// Files are split over the ranks of `comm` in contiguous blocks; the grid and both weights matrices
// are built once on the root and broadcast.
PredictReport predict_columns(const ModelBundle& model, const ColumnPredictOptions& options, const Comm& comm);

}  // namespace climseg::training
