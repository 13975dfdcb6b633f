// The class map written by `climseg label`, in ClimateNet's convention: 0 background, 1 tropical
// cyclone, 2 atmospheric river, 3 extreme waves.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace climseg::heuristics {

enum Class : uint8_t { kBackground = 0, kCyclone = 1, kRiver = 2, kWaves = 3 };

// The one table of class names, by class value (0 background .. 3 extreme waves).
struct ClassInfo {
  std::string name;   // flag_meanings, events.csv, summaries: "tropical_cyclone"
  std::string title;  // map legends: "tropical cyclone"
  std::string event;  // an event's track on a map: "cyclone event"
};
const std::vector<ClassInfo>& class_table();

// Class names as written in flag_meanings (class_table()'s `name`s).
const std::vector<std::string>& class_names();

// Combines per-class masks (each (H, W) 1/0, or empty when that detector did not run) into one class
// map. Where classes overlap the priority is cyclone > river > waves: a cyclone embedded in a river
// stays a cyclone (as in the labels of Kurth et al.), and turning the wave detector on never changes
// a cyclone or river cell, so classes 1 and 2 mean exactly what ClimateNet's do.
std::vector<uint8_t> merge_classes(size_t cells, std::span<const uint8_t> cyclone, std::span<const uint8_t> river,
                                   std::span<const uint8_t> waves);

}  // namespace climseg::heuristics
