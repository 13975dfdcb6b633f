// Fuzz target: bytes as a training configuration file (JSON parse, TrainConfig::from_json with the
// network config inside) and as "--key value" overrides applied to a valid configuration.
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "fuzz_support.hpp"
#include "models/training/train_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace climseg;
  fuzz::quiet();
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean_error([&] {
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
      return;  // the CLI turns this into "not valid JSON"
    }
    (void)training::TrainConfig::from_json(doc);
  });
  // The same bytes as one override value: --model.<key> TEXT on a minimal valid config.
  fuzz::expect_clean_error([&] {
    nlohmann::json doc = {{"data", {{"train", {"x.nc"}}}}};
    const size_t cut = text.find('\n');
    const std::string key = cut == std::string::npos ? "epochs" : text.substr(0, cut);
    const std::string value = cut == std::string::npos ? text : text.substr(cut + 1);
    config::apply_overrides(doc, {{key, value}}, training::TrainConfig{}.to_json());
    (void)training::TrainConfig::from_json(doc);
  });
  return 0;
}
