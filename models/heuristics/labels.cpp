// Class-map assembly with a fixed priority.
#include "models/heuristics/labels.hpp"

#include "core/error.hpp"

namespace climseg::heuristics {

const std::vector<ClassInfo>& class_table() {
  static const std::vector<ClassInfo> table = {
      {"background", "background", ""},
      {"tropical_cyclone", "tropical cyclone", "cyclone event"},
      {"atmospheric_river", "atmospheric river", "river event"},
      {"extreme_waves", "extreme waves", "waves event"},
  };
  return table;
}

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const ClassInfo& c : class_table()) n.push_back(c.name);
    return n;
  }();
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
