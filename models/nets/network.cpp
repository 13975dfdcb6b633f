// Network configs and the factory.
#include "models/nets/network.hpp"

#include "core/error.hpp"
#include "models/nets/cgnet.hpp"
#include "models/nets/deeplab.hpp"
#include "models/nets/unet.hpp"
#include "nn/layers.hpp"

namespace climseg::nets {
using nlohmann::json;

int64_t NetConfig::get_int(const std::string& key, int64_t fallback) const {
  if (!params.contains(key)) return fallback;
  const json& v = params.at(key);
  if (!v.is_number_integer())
    fail_usage("model config: '{}' must be an integer, got {}", key,
               v.dump(-1, ' ', false, json::error_handler_t::replace));
  return v.get<int64_t>();
}

std::vector<int64_t> NetConfig::get_ints(const std::string& key, std::vector<int64_t> fallback) const {
  if (!params.contains(key)) return fallback;
  const json& v = params.at(key);
  if (!v.is_array())
    fail_usage("model config: '{}' must be a list of integers, got {}", key,
               v.dump(-1, ' ', false, json::error_handler_t::replace));
  std::vector<int64_t> out;
  for (const json& e : v) {
    if (!e.is_number_integer())
      fail_usage("model config: '{}' must be a list of integers, got {}", key,
                 v.dump(-1, ' ', false, json::error_handler_t::replace));
    out.push_back(e.get<int64_t>());
  }
  return out;
}

json NetConfig::to_json() const {
  json j = params;
  j["type"] = type;
  j["channels"] = channels;
  j["classes"] = classes;
  j["padding"] = padding;
  return j;
}

NetConfig NetConfig::from_json(const json& j) {
  if (!j.is_object())
    fail_usage("model config must be a JSON object, got {}", j.dump(-1, ' ', false, json::error_handler_t::replace));
  NetConfig c;
  c.params = json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    try {
      if (k == "type")
        c.type = it->get<std::string>();
      else if (k == "channels")
        c.channels = it->get<std::vector<std::string>>();
      else if (k == "classes")
        c.classes = it->get<std::vector<std::string>>();
      else if (k == "padding")
        c.padding = it->get<std::string>();
      else
        c.params[k] = *it;
    } catch (const json::exception&) {
      fail_usage("model config: '{}' has the wrong type: {}", k,
                 it->dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  if (c.type != "cgnet" && c.type != "unet" && c.type != "deeplabv3plus")
    fail_usage("model config: unknown type '{}' (cgnet, unet, deeplabv3plus)", c.type);
  // U-Net's default padding is spherical (periodic in longitude, zeros at the poles); CGNet and
  // DeepLabv3+ keep ClimateNet's circular one.
  if (!j.contains("padding") && c.type == "unet") c.padding = "spherical";
  if (c.channels.empty()) fail_usage("model config: 'channels' is empty");
  if (c.classes.size() < 2) fail_usage("model config: 'classes' needs at least 2 names");
  make_padding(c.padding, 1);  // validates the mode
  return c;
}

nn::Padding make_padding(const std::string& mode, int64_t amount) { return make_padding(mode, amount, amount); }

nn::Padding make_padding(const std::string& mode, int64_t ah, int64_t aw) {
  if (mode == "circular") return nn::Padding::circular(ah, aw);
  if (mode == "spherical") return nn::Padding::spherical(ah, aw, nn::Pad::zeros);
  if (mode == "spherical-reflect") return nn::Padding::spherical(ah, aw, nn::Pad::reflect);
  if (mode == "zeros") return nn::Padding::zeros(ah, aw);
  fail_usage("model config: unknown padding '{}' (circular, spherical, spherical-reflect, zeros)", mode);
}

PaddedConv::PaddedConv(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t dilation, int64_t groups,
                       const std::string& padding, bool bias)
    : conv(cin, cout, k,
           nn::Conv2dOptions{}.stride(stride).dilation(dilation).group_count(groups).pad(
               make_padding(padding, (k - 1) / 2 * dilation)),
           bias) {
  register_module("conv", conv);
}

std::unique_ptr<Network> make_network(const NetConfig& config) {
  if (config.type == "cgnet") return std::make_unique<CGNet>(config);
  if (config.type == "unet") return std::make_unique<UNet>(config);
  if (config.type == "deeplabv3plus") return std::make_unique<DeepLabV3Plus>(config);
  fail_usage("model config: unknown type '{}'", config.type);
}

}  // namespace climseg::nets
