// Helpers shared by the search tests: results tables read back without their timing columns.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace climseg::test {

// The rows of a trials.jsonl table without wall_s and groups (which differ between equal runs).
inline std::vector<nlohmann::json> table_without_timing(const std::filesystem::path& jsonl) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    j.erase("wall_s");
    j.erase("groups");
    rows.push_back(j);
  }
  return rows;
}

// Number of lines in a text file (0 if it cannot be read).
inline int64_t lines_of(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

}  // namespace climseg::test
