// A trained model as predict and evaluate use it: the network, its weights, the channels and
// classes it was trained with and the normalization of its inputs. Loaded from a climseg
// checkpoint or from ClimateNet's published weights file as it is.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "geo/grid.hpp"
#include "models/nets/network.hpp"
#include "models/training/data.hpp"
#include "nn/checkpoint.hpp"

namespace climseg::training {

struct ModelBundle {
  nets::NetConfig config;
  Normalizer normalizer;
  std::unique_ptr<nets::Network> net;
  std::unique_ptr<nn::Parameters> params;
  std::string source;  // the file
  std::string kind;    // "climseg checkpoint" or "ClimateNet weights"
  int64_t step = 0;    // optimizer steps of a climseg checkpoint
  // The grid the model was trained on (`predict --regrid` runs the network there): the
  // `training_grid` attribute of a climseg checkpoint; 768x1152 CAM (-90..90, from 0 east) for
  // ClimateNet's weights, their training resolution; empty for checkpoints written before climseg
  // recorded it.
  std::optional<geo::Grid> training_grid;

  // Archive channel specs that build the model's inputs: "TMQ" stays; a name like U850 becomes
  // "U@850" (level 850 of U, or a 2-D variable U850 when U has no levels).
  std::string channel_specs() const;
};

// Throws Error (one line naming the file) when it is neither, or when tensors are missing or
// mis-shaped. A bare file name that is not in the working folder names a bundled model
// (resolve_model_path: build::data_dir()/models, e.g. "cgnet_synth_96x144.h5").
ModelBundle load_model(const std::filesystem::path& path);
std::filesystem::path resolve_model_path(const std::filesystem::path& given);

// The attributes a climseg checkpoint carries for load_model (architecture, model, fields, classes,
// normalization and, when given, training_grid), to merge into nn::CheckpointInfo::attributes.
std::map<std::string, std::string> model_attributes(const nets::NetConfig& config, const Normalizer& norm,
                                                    const geo::Grid* training_grid = nullptr);

// The `training_grid` attribute: {"height": H, "width": W, "periodic": b, "lat": [...], "lon": [...]}
// (coordinates in degrees, canonical orientation), and back (throws Error naming `source`).
std::string grid_attribute(const geo::Grid& grid);
geo::Grid grid_from_attribute(const std::string& text, const std::string& source);

}  // namespace climseg::training
