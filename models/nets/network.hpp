// Segmentation networks (CGNet, U-Net, DeepLabv3+) built from the engine, described by a JSON
// config (type, hyper-parameters, input channels and classes by name) that checkpoints carry.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/graph.hpp"
#include "nn/layers.hpp"
#include "nn/module.hpp"
#include "nn/padding.hpp"

namespace climseg::nets {

// The description of a network. JSON keys: "type" ("cgnet", "unet", "deeplabv3plus"),
// "channels" (input channel names, e.g. ["TMQ", "U850", "V850", "PSL"]), "classes" (names,
// class 0 first), "padding" ("circular": ClimateNet's, periodic on both axes; "spherical":
// periodic in longitude, zeros at the poles; "spherical-reflect": mirrored at the poles; "zeros";
// a config that names none gets "spherical" for U-Net, "circular" for the others),
// and the type's hyper-parameters (see each network's header for keys and defaults).
struct NetConfig {
  std::string type = "cgnet";
  std::vector<std::string> channels = {"TMQ", "U850", "V850", "PSL"};
  std::vector<std::string> classes = {"Background", "Tropical Cyclone", "Atmospheric River"};
  std::string padding = "circular";
  nlohmann::json params = nlohmann::json::object();  // type-specific hyper-parameters

  int64_t in_channels() const { return static_cast<int64_t>(channels.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(classes.size()); }
  // Reads a hyper-parameter with a default; throws UsageError naming the key on a wrong type.
  int64_t get_int(const std::string& key, int64_t fallback) const;
  std::vector<int64_t> get_ints(const std::string& key, std::vector<int64_t> fallback) const;

  nlohmann::json to_json() const;
  // Throws UsageError naming the bad key (unknown type, empty channels, fewer than 2 classes, ...).
  static NetConfig from_json(const nlohmann::json& j);
};

// Padding of `amount` cells on both axes in the config's mode.
nn::Padding make_padding(const std::string& mode, int64_t amount);
nn::Padding make_padding(const std::string& mode, int64_t amount_h, int64_t amount_w);

class Network : public nn::Module {
 public:
  explicit Network(NetConfig config) : config_(std::move(config)) {}
  // x (N, C, H, W) normalised inputs -> logits (N, K, H, W).
  virtual nn::Value forward(nn::Value x) = 0;
  // H and W must be multiples of this (callers pad, periodic in longitude, and crop).
  virtual int64_t size_multiple() const { return 1; }
  const NetConfig& config() const { return config_; }

 private:
  NetConfig config_;
};

std::unique_ptr<Network> make_network(const NetConfig& config);

// A bias-free convolution wrapped in a module with one child named "conv" (ClimateNet's `Conv`,
// whose weight is "<name>.conv.weight"), padded by (k-1)/2*dilation in the network's mode.
class PaddedConv : public nn::Module {
 public:
  PaddedConv(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t dilation, int64_t groups,
             const std::string& padding, bool bias = false);
  nn::Value forward(nn::Value x) { return conv(x); }
  nn::Conv2d conv;
};

}  // namespace climseg::nets
