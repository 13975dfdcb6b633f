// Class-map assembly with a fixed priority.
#include "models/heuristics/labels.hpp"

#include "core/error.hpp"

namespace climseg::heuristics {

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names = {"background", "tropical_cyclone", "atmospheric_river",
                                                 "extreme_waves"};
  return names;
}

std::vector<uint8_t> merge_classes(size_t cells, std::span<const uint8_t> cyclone, std::span<const uint8_t> river,
                                   std::span<const uint8_t> waves) {
  for (auto m : {cyclone, river, waves})
    if (!m.empty() && m.size() != cells) fail("labels: a class mask has {} cells, expected {}", m.size(), cells);
  std::vector<uint8_t> out(cells, kBackground);
  for (size_t k = 0; k < cells; ++k) {
    if (!cyclone.empty() && cyclone[k])
      out[k] = kCyclone;
    else if (!river.empty() && river[k])
      out[k] = kRiver;
    else if (!waves.empty() && waves[k])
      out[k] = kWaves;
  }
  return out;
}

}  // namespace climseg::heuristics
