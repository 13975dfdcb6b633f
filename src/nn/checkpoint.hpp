// State dicts and checkpoints in HDF5. Layout (compatible with ClimateNet's converted weights):
//   /state_dict/<dotted name>          float32, PyTorch shape (parameters and buffers)
//   /optimizer/<state>/<dotted name>   float32 (e.g. exp_avg), attributes type, hyper (JSON), steps
//   root attributes: format, step, config, loader, rng (JSON strings) and any extra string attributes
// Files are written under a temporary name and renamed when complete (AtomicOutput).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/h5.hpp"
#include "core/tensor.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"

namespace climseg::nn {

using StateDict = std::map<std::string, Tensor>;

// Every dataset of a group (default "state_dict") as float tensors with their shapes.
StateDict read_state_dict(const std::filesystem::path& file, const std::string& group = "state_dict");
StateDict read_state_dict(const h5::Group& group);
// The model's parameters and buffers (views into its arenas, not copies).
StateDict state_dict(const Parameters& params);

// What differed between a state dict and a model.
struct LoadReport {
  std::vector<std::string> missing;     // in the model, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the model
  std::vector<std::string> mismatched;  // "name: file [a, b] vs model [c, d]"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string message() const;  // one line naming every problem
};

// Copies tensors into the model by name. Matching tensors are loaded even when others are not;
// with strict, any missing, unexpected or mis-shaped tensor then throws Error with the report
// (prefixed by `source`, e.g. the file name). Names in `ignore` are skipped on both sides.
LoadReport load_state_dict(Parameters& params, const StateDict& sd, bool strict = true, const std::string& source = {},
                           const std::vector<std::string>& ignore = {});
LoadReport load_state_dict(Parameters& params, const std::filesystem::path& file, bool strict = true,
                           const std::string& group = "state_dict");

// Writes the state dict into a group of an open file.
void write_state_dict(const h5::Group& group, const Parameters& params);

// Everything besides tensors that a run needs to resume exactly.
struct CheckpointInfo {
  int64_t step = 0;                               // optimizer updates done
  std::string config;                             // the run's configuration (JSON)
  std::string loader;                             // data-loader position (JSON)
  std::string rng;                                // random generator states (JSON)
  std::map<std::string, std::string> attributes;  // anything else (architecture, fields, classes, ...)
};

// Writes weights, buffers, the optimizer's state (if any) and `info` atomically to `path`.
void save_checkpoint(const std::filesystem::path& path, const Parameters& params, Optimizer* optimizer,
                     const CheckpointInfo& info);
// Loads weights and buffers strictly by name, the optimizer state when `optimizer` is given (it must
// be of the same type), and returns the info.
CheckpointInfo load_checkpoint(const std::filesystem::path& path, Parameters& params, Optimizer* optimizer = nullptr);

}  // namespace climseg::nn
