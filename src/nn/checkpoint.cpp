// State dicts and atomic HDF5 checkpoints.
#include "nn/checkpoint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/atomic_file.hpp"
#include "core/checksum.hpp"
#include "core/error.hpp"

namespace climseg::nn {
namespace fs = std::filesystem;

namespace {
constexpr const char* kFormat = "climseg-checkpoint-1";

// (fmt::join trips a false -Wstringop-overflow in GCC 12 at -O3.)
std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}
}  // namespace

StateDict read_state_dict(const h5::Group& group) {
  StateDict sd;
  for (const std::string& name : group.members())
    if (group.has_dataset(name)) sd.emplace(name, group.read_tensor(name));
  return sd;
}

StateDict read_state_dict(const fs::path& file, const std::string& group) {
  h5::File f = h5::File::open_verified(file);
  if (!f.has_group(group)) fail("{}: no group '{}' (not a state dict or checkpoint file)", file.string(), group);
  return read_state_dict(f.open_group(group));
}

StateDict state_dict(const Parameters& params) {
  StateDict sd;
  for (const Param* p : params.state()) sd.emplace(p->name, p->tensor());
  return sd;
}

std::string LoadReport::message() const {
  std::vector<std::string> parts;
  if (!missing.empty()) parts.push_back("missing " + join(missing, ", "));
  if (!unexpected.empty()) parts.push_back("unexpected " + join(unexpected, ", "));
  if (!mismatched.empty()) parts.push_back("wrong shape " + join(mismatched, "; "));
  return parts.empty() ? "all tensors matched" : join(parts, "; ");
}

LoadReport load_state_dict(Parameters& params, const StateDict& sd, bool strict, const std::string& source,
                           const std::vector<std::string>& ignore) {
  std::set<std::string> skip(ignore.begin(), ignore.end());
  LoadReport r;
  for (Param* p : params.state()) {
    if (skip.count(p->name)) continue;
    auto it = sd.find(p->name);
    if (it == sd.end()) {
      r.missing.push_back(p->name);
      continue;
    }
    if (it->second.shape() != p->shape) {
      r.mismatched.push_back(
          fmt::format("{}: file {} vs model {}", p->name, shape_str(it->second.shape()), shape_str(p->shape)));
      continue;
    }
    std::copy(it->second.begin(), it->second.end(), p->data);
  }
  for (const auto& [name, t] : sd)
    if (!skip.count(name) && params.find(name) == nullptr) r.unexpected.push_back(name);
  if (strict && !r.ok()) fail("{}cannot load the state dict: {}", source.empty() ? "" : source + ": ", r.message());
  return r;
}

LoadReport load_state_dict(Parameters& params, const fs::path& file, bool strict, const std::string& group) {
  return load_state_dict(params, read_state_dict(file, group), strict, file.string());
}

void write_state_dict(const h5::Group& group, const Parameters& params) {
  for (const Param* p : params.state()) group.write(p->name, p->data, p->shape);
}

void save_checkpoint(const fs::path& path, const Parameters& params, Optimizer* optimizer, const CheckpointInfo& info) {
  AtomicOutput out(path);
  {
    h5::File f = h5::File::create(out.temp_path(), kSealBytes);
    f.set_attr("format", std::string(kFormat));
    f.set_attr("step", info.step);
    f.set_attr("config", info.config);
    f.set_attr("loader", info.loader);
    f.set_attr("rng", info.rng);
    for (const auto& [k, v] : info.attributes) {
      if (k == "format" || k == "step" || k == "config" || k == "loader" || k == "rng")
        fail("checkpoint attribute '{}' is reserved", k);
      f.set_attr(k, v);
    }
    write_state_dict(f.create_group("state_dict"), params);
    if (optimizer != nullptr) {
      h5::Group og = f.create_group("optimizer");
      og.set_attr("type", optimizer->name());
      og.set_attr("hyper", optimizer->hyper_json());
      og.set_attr("steps", optimizer->steps());
      for (auto& [name, arena] : optimizer->state()) {
        h5::Group sg = og.create_group(name);
        for (const Param* p : params.params()) sg.write(p->name, arena->data() + p->offset, p->shape);
      }
    }
    f.close();
  }
  seal_file(out.temp_path());
  out.commit();
}

CheckpointInfo load_checkpoint(const fs::path& path, Parameters& params, Optimizer* optimizer) {
  h5::File f = h5::File::open_verified(path);
  if (!f.has_group("state_dict")) fail("{}: not a checkpoint (no state_dict group)", path.string());
  CheckpointInfo info;
  auto text = [&](const char* name) { return f.has_attr(name) ? f.attr_string(name) : std::string(); };
  info.step = f.has_attr("step") ? f.attr_int64("step") : 0;
  info.config = text("config");
  info.loader = text("loader");
  info.rng = text("rng");
  for (const std::string& name : f.attr_names())  // architecture, model, classes, normalization, ...
    if (name != "format" && name != "step" && name != "config" && name != "loader" && name != "rng" &&
        f.attr_is_string(name))
      info.attributes[name] = f.attr_string(name);
  load_state_dict(params, read_state_dict(f.open_group("state_dict")), true, path.string());
  if (optimizer != nullptr) {
    if (!f.has_group("optimizer")) fail("{}: the checkpoint holds no optimizer state", path.string());
    h5::Group og = f.open_group("optimizer");
    std::string type = og.attr_string("type");
    if (type != optimizer->name())
      fail("{}: the checkpoint's optimizer is {}, not {}", path.string(), type, optimizer->name());
    for (auto& [name, arena] : optimizer->state()) {
      if (!og.has_group(name)) fail("{}: optimizer state '{}' missing", path.string(), name);
      h5::Group sg = og.open_group(name);
      for (const Param* p : params.params()) {
        if (!sg.has_dataset(p->name)) fail("{}: optimizer state '{}' has no '{}'", path.string(), name, p->name);
        sg.read_into(p->name, arena->data() + p->offset, p->shape);
      }
    }
    optimizer->set_steps(og.attr_int64("steps"));
  }
  return info;
}

}  // namespace climseg::nn
