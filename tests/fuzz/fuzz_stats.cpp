// Fuzz target: bytes as a statistics file (climseg's format and ClimateNet's), then the lookups that
// training and prediction make on it.
#include "fuzz_support.hpp"
#include "readers/stats.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace climseg;
  fuzz::quiet();
  static fuzz::InputFile input(".json");
  const auto& path = input.write(data, size);
  fuzz::expect_clean_error([&] {
    io::ChannelStats s = io::load_stats(path);
    std::vector<std::string> names;
    for (const auto& c : s.channels) names.push_back(c.name);
    (void)s.mean_std(names);
    (void)io::to_json(s).dump();
  });
  return 0;
}
