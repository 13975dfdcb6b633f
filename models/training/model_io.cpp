// Loading trained models.
#include "models/training/model_io.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/h5.hpp"
#include "core/log.hpp"

namespace climseg::training {
namespace fs = std::filesystem;
using nlohmann::json;

std::string ModelBundle::channel_specs() const {
  std::string out;
  for (const std::string& c : config.channels) {
    size_t k = 0;
    while (k < c.size() && std::isalpha(static_cast<unsigned char>(c[k]))) ++k;
    bool level_name = k > 0 && k < c.size();
    for (size_t i = k; i < c.size(); ++i) level_name = level_name && std::isdigit(static_cast<unsigned char>(c[i]));
    out += (out.empty() ? "" : ",") + (level_name ? c.substr(0, k) + "@" + c.substr(k) : c);
  }
  return out;
}

bool ModelBundle::described() const {
  return !inputs.empty() &&
         std::all_of(inputs.begin(), inputs.end(), [](const io::ChannelMeta& m) { return m.described(); });
}

std::string ModelBundle::channels_hint() const {
  std::vector<std::string> parts;
  for (const std::string& c : config.channels) parts.push_back(c + "=VAR");
  return fmt::format("--channels {}", fmt::join(parts, ","));
}

std::vector<io::ChannelSpec> ModelBundle::input_specs(const std::string& given) const {
  std::vector<io::ChannelSpec> out;
  std::map<std::string, io::ChannelSpec> by_name;
  if (!given.empty()) {
    std::vector<std::string> strangers;
    for (const io::ChannelSpec& s : io::parse_channels(given)) {
      if (std::find(config.channels.begin(), config.channels.end(), s.name) == config.channels.end())
        strangers.push_back(s.text == s.name ? s.name : fmt::format("{} (channel {})", s.text, s.name));
      by_name[s.name] = s;
    }
    if (!strangers.empty()) {
      std::vector<std::string> described;
      for (const io::ChannelMeta& m : inputs) described.push_back(m.describe());
      fail_usage(
          "--channels {}: {} {} not among the model's channels, which are {}: channels are matched by name, not by "
          "position; name the model's channel each variable feeds, e.g. {}",
          given, fmt::join(strangers, ", "), strangers.size() == 1 ? "is" : "are", fmt::join(described, "; "),
          channels_hint());
    }
  }
  const std::vector<std::string> defaults = [&] {
    std::vector<std::string> v;
    for (const io::ChannelSpec& s : io::parse_channels(channel_specs())) v.push_back(s.text);
    return v;
  }();
  for (size_t c = 0; c < config.channels.size(); ++c) {
    const std::string& name = config.channels[c];
    const io::ChannelMeta& meta = inputs[c];
    io::ChannelSpec spec;
    if (auto it = by_name.find(name); it != by_name.end()) {
      spec = it->second;  // as the user named it: no fallbacks
    } else {
      spec = io::ChannelSpec::parse(defaults[c]);
      spec.name = name;
      if (meta.described()) {
        const io::Quantity* q = io::quantity_of(name, meta.standard_name, meta.level);
        if (!meta.standard_name.empty()) spec.standard_names = {meta.standard_name};
        if (q != nullptr)
          for (const std::string& sn : q->standard_names)
            if (std::find(spec.standard_names.begin(), spec.standard_names.end(), sn) == spec.standard_names.end())
              spec.standard_names.push_back(sn);
        spec.standard_level = io::level_spec(meta.level);
        if (q != nullptr)
          for (const std::string& alias : q->names)
            if (alias != spec.text && alias != name) spec.aliases.push_back(alias);
      }
    }
    spec.units = meta.units;
    if (const io::Quantity* q = io::quantity_of(name, meta.standard_name, meta.level)) spec.bridge = q->bridge;
    out.push_back(std::move(spec));
  }
  return out;
}

std::map<std::string, std::string> model_attributes(const nets::NetConfig& config, const Normalizer& norm,
                                                    const geo::Grid* training_grid,
                                                    const std::vector<io::ChannelMeta>& inputs) {
  std::map<std::string, std::string> a = {{"architecture", config.type},
                                          {"model", config.to_json().dump()},
                                          {"fields", json(config.channels).dump()},
                                          {"classes", json(config.classes).dump()},
                                          {"normalization", norm.to_json().dump()}};
  if (training_grid != nullptr) a["training_grid"] = grid_attribute(*training_grid);
  if (!inputs.empty()) a["channel_meta"] = json(inputs).dump();
  return a;
}

std::string model_difference(const json& checkpoint_model, const nets::NetConfig& run) {
  const json mine = run.to_json();
  std::vector<std::string> parts;
  auto text = [](const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); };
  std::set<std::string> keys;
  for (auto it = checkpoint_model.begin(); it != checkpoint_model.end(); ++it) keys.insert(it.key());
  for (auto it = mine.begin(); it != mine.end(); ++it) keys.insert(it.key());
  for (const std::string& k : keys) {
    const bool a = checkpoint_model.contains(k), b = mine.contains(k);
    if (a && b && checkpoint_model.at(k) == mine.at(k)) continue;
    parts.push_back(fmt::format("checkpoint has model.{}={}, this run asks model.{}={}", k,
                                a ? text(checkpoint_model.at(k)) : "(unset: the default)", k,
                                b ? text(mine.at(k)) : "(unset: the default)"));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

std::string grid_attribute(const geo::Grid& grid) {
  return json{{"height", grid.height()},
              {"width", grid.width()},
              {"periodic", grid.periodic},
              {"lat", grid.lat},
              {"lon", grid.lon}}
      .dump();
}

geo::Grid grid_from_attribute(const std::string& text, const std::string& source) {
  geo::Grid g;
  try {
    json j = json::parse(text);
    g.lat = j.at("lat").get<std::vector<double>>();
    g.lon = j.at("lon").get<std::vector<double>>();
    g.periodic = j.at("periodic").get<bool>();
    if (j.at("height").get<int64_t>() != g.height() || j.at("width").get<int64_t>() != g.width())
      fail("{}: training_grid: height/width disagree with the coordinates", source);
  } catch (const json::exception& e) {
    fail("{}: malformed training_grid attribute: {}", source, e.what());
  }
  if (g.height() < 2 || g.width() < 2) fail("{}: training_grid: fewer than 2 latitudes or longitudes", source);
  return g;
}

fs::path resolve_model_path(const fs::path& given) {
  std::error_code ec;
  if (fs::exists(given, ec) || given.has_parent_path()) return given;
  // A bare file name that is not in the working folder names a bundled model.
  const std::string data = build::data_dir();
  if (!data.empty() && fs::exists(fs::path(data) / "models" / given, ec)) return fs::path(data) / "models" / given;
  return given;
}

ModelBundle load_model(const fs::path& given) {
  const fs::path path = resolve_model_path(given);
  const std::string p = path.string();
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    const std::string data = build::data_dir();
    if (!given.has_parent_path() && !data.empty())
      fail("{}: no such model file (nor a bundled model in {}/models)", p, data);
    fail("{}: no such model file", p);
  }
  ModelBundle b;
  b.source = p;
  std::string architecture, fields, classes, normalization, model, training_grid, channel_meta;
  bool is_checkpoint = false;
  {
    h5::File f = h5::File::open_verified(path);
    if (!f.has_group("state_dict"))
      fail("{}: not a model: no state_dict group (a climseg checkpoint or ClimateNet weights)", p);
    auto text = [&](const char* name) { return f.has_attr(name) ? f.attr_string(name) : std::string(); };
    is_checkpoint = f.has_attr("format");
    architecture = text("architecture");
    fields = text("fields");
    classes = text("classes");
    normalization = text("normalization");
    model = text("model");
    training_grid = text("training_grid");
    channel_meta = text("channel_meta");
  }
  try {
    if (!model.empty()) {
      b.config = nets::NetConfig::from_json(json::parse(model));
    } else {
      // ClimateNet's file: CGNet with its defaults, channels and classes from the attributes.
      if (architecture != "cgnet") fail("{}: unknown architecture '{}' (no model attribute)", p, architecture);
      b.config = nets::NetConfig{};
      if (!fields.empty()) b.config.channels = json::parse(fields).get<std::vector<std::string>>();
      if (!classes.empty()) b.config.classes = json::parse(classes).get<std::vector<std::string>>();
    }
    if (normalization.empty()) fail("{}: no normalization attribute; inputs cannot be normalised", p);
    b.normalizer = Normalizer::from_json(json::parse(normalization), b.config.channels, p);
    if (!channel_meta.empty()) {
      b.inputs = json::parse(channel_meta).get<std::vector<io::ChannelMeta>>();
      if (b.inputs.size() != b.config.channels.size())
        fail("{}: channel_meta describes {} channels, the model has {}", p, b.inputs.size(), b.config.channels.size());
      for (size_t c = 0; c < b.inputs.size(); ++c)
        if (b.inputs[c].name != b.config.channels[c])
          fail("{}: channel_meta names channel {} '{}', the model '{}'", p, c, b.inputs[c].name, b.config.channels[c]);
    } else {
      for (const std::string& c : b.config.channels) {
        io::ChannelMeta m;
        m.name = c;
        // ClimateNet's channels are CAM5's: the quantity table says what they are.
        const io::Quantity* q = is_checkpoint ? nullptr : io::quantity_of(c);
        if (q != nullptr) {
          m.units = q->units;
          m.standard_name = q->standard_names.empty() ? std::string() : q->standard_names.front();
          m.level = q->level;
        }
        b.inputs.push_back(m);
      }
    }
  } catch (const json::exception& e) {
    fail("{}: malformed model attributes: {}", p, e.what());
  } catch (const UsageError& e) {
    fail("{}: {}", p, e.what());
  }
  b.kind = is_checkpoint ? "climseg checkpoint" : "ClimateNet weights";
  if (!training_grid.empty())
    b.training_grid = grid_from_attribute(training_grid, p);
  else if (!is_checkpoint)
    b.training_grid = geo::Grid::cam(768, 1152);  // ClimateNet trained on CAM5 0.25 degree output
  b.net = nets::make_network(b.config);
  b.params = std::make_unique<nn::Parameters>(*b.net);
  if (is_checkpoint) {
    nn::CheckpointInfo info = nn::load_checkpoint(path, *b.params, nullptr);
    b.step = info.step;
  } else {
    nn::load_state_dict(*b.params, path, /*strict=*/true);
  }
  log::debug("loaded {} {} ({} {}, {} parameters, channels {})", b.kind, p, b.config.type, b.config.padding,
             b.params->count(), fmt::join(b.config.channels, ","));
  return b;
}

}  // namespace climseg::training
