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
#include "readers/archive.hpp"
#include "readers/quantities.hpp"

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

  // What each input channel is (config.channels order): name, units, CF standard name, level.
  // From the checkpoint's `channel_meta` attribute; for ClimateNet's weights from the quantity
  // table (TMQ kg m-2 atmosphere_mass_content_of_water_vapor, U850/V850 m s-1 eastward_wind/
  // northward_wind at 850 hPa, PSL Pa air_pressure_at_mean_sea_level); names alone for a
  // checkpoint written before climseg recorded them.
  std::vector<io::ChannelMeta> inputs;
  bool described() const;  // every input has units or a standard name

  // Archive channel specs that build the model's inputs: "TMQ" stays; a name like U850 becomes
  // "U@850" (level 850 of U, or a 2-D variable U850 when U has no levels).
  std::string channel_specs() const;

  // The channel specs that read the model's inputs, in its order, converted to its units.
  // `given` (--channels) names some or all of the model's channels ("TMQ=IWV,PSL=SLP", or
  // "PSL,TMQ,U@850,V@850" in any order): each is matched by its name and reordered; the others
  // are found by name, then by standard name and level, then by the names archives use for the
  // quantity (IWV, tcwv, ...). Throws UsageError naming the model's channels and the fix when
  // `given` names a channel the model does not have.
  std::vector<io::ChannelSpec> input_specs(const std::string& given) const;
  // "--channels TMQ=VAR,U850=VAR,..." style hint for messages.
  std::string channels_hint() const;
};

// Throws Error (one line naming the file) when it is neither, or when tensors are missing or
// mis-shaped. A bare file name that is not in the working folder names a bundled model
// (resolve_model_path: build::data_dir()/models, e.g. "cgnet_synth_96x144.h5").
ModelBundle load_model(const std::filesystem::path& path);
std::filesystem::path resolve_model_path(const std::filesystem::path& given);

// The attributes a climseg checkpoint carries for load_model (architecture, model, fields, classes,
// normalization and, when given, training_grid and channel_meta), to merge into nn::CheckpointInfo::attributes.
std::map<std::string, std::string> model_attributes(const nets::NetConfig& config, const Normalizer& norm,
                                                    const geo::Grid* training_grid = nullptr,
                                                    const std::vector<io::ChannelMeta>& inputs = {});

// How the network a checkpoint holds (its `model` attribute) differs from `run`, for messages:
// "checkpoint has model.N=1, this run asks model.N=3; ..."; "" when they agree.
std::string model_difference(const nlohmann::json& checkpoint_model, const nets::NetConfig& run);

// The `training_grid` attribute: {"height": H, "width": W, "periodic": b, "lat": [...], "lon": [...]}
// (coordinates in degrees, canonical orientation), and back (throws Error naming `source`).
std::string grid_attribute(const geo::Grid& grid);
geo::Grid grid_from_attribute(const std::string& text, const std::string& source);

}  // namespace climseg::training
