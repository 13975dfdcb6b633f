// Fuzz target: an HDF5 file's bytes through the model loader (training::load_model: attributes, the
// network config inside, nn::load_checkpoint / load_state_dict) and through the checkpoint loader into
// a fixed small model with optimizer state (the --resume path).
#include <cstdlib>

#include "fuzz_support.hpp"
#include "models/nets/network.hpp"
#include "models/training/model_io.hpp"
#include "nn/checkpoint.hpp"
#include "nn/optim.hpp"

namespace {

struct Fixed {
  std::unique_ptr<climseg::nets::Network> net;
  std::unique_ptr<climseg::nn::Parameters> params;
  std::unique_ptr<climseg::nn::Optimizer> optimizer;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace climseg;
  fuzz::quiet();
  static fuzz::InputFile input(".h5");
  const auto& path = input.write(data, size);
  fuzz::expect_clean_error([&] { (void)training::load_model(path); });
  static Fixed fixed = [] {
    Fixed f;
    nets::NetConfig c = nets::NetConfig::from_json(
        nlohmann::json::parse(R"({"type": "unet", "depth": 1, "width": 2, "channels": ["A"], "classes": ["x", "y"]})"));
    f.net = nets::make_network(c);
    f.params = std::make_unique<nn::Parameters>(*f.net);
    f.optimizer = std::make_unique<nn::Adam>(*f.params, nn::AdamOptions{});
    // CLIMSEG_FUZZ_WRITE_SEED=PATH: write a complete checkpoint of this model (the corpus seed).
    if (const char* seed = std::getenv("CLIMSEG_FUZZ_WRITE_SEED"); seed != nullptr && *seed != '\0') {
      training::Normalizer norm;
      norm.channels = c.channels;
      norm.shift = {1.0f};
      norm.scale = {2.0f};
      nn::CheckpointInfo info;
      info.step = 3;
      info.attributes = training::model_attributes(c, norm);
      nn::save_checkpoint(seed, *f.params, f.optimizer.get(), info);
    }
    return f;
  }();
  fuzz::expect_clean_error([&] { (void)nn::load_checkpoint(path, *fixed.params, fixed.optimizer.get()); });
  return 0;
}
