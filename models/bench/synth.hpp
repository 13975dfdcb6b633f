// `climseg bench synth`: seconds to generate one synthetic step (16 CAM5 channels + labels, optionally
// 3-D columns) and to write it, against this machine's memory-bandwidth floor for the same bytes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace climseg::bench {

struct SynthBenchOptions {
  std::string grid = "768x1152";  // HxW
  int repeat = 5;                 // timed steps (medians reported)
  bool levels = false;            // also the 3-D Q, U, V columns on 10 pressure levels
  std::string tmp;                // folder of the write timing (empty: the system temp folder)
};

// One object: bench, grid, threads, steps_timed, generate_s, columns_s (with levels),
// write_deflate1_s, write_raw_s, fill_s, generate_vs_fill (keys in that order).
nlohmann::ordered_json bench_synth(const SynthBenchOptions& o);

}  // namespace climseg::bench
