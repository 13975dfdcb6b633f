// `climseg bench label`: seconds per 768x1152 time step per core of the cyclone detector, with and
// without reading the files, against TECA's published run (58,400 CAM5 0.25° steps on 58,400 cores
// in about 35 minutes, I/O included: 35 core-minutes = 2,100 core-seconds per step).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace climseg::bench {

struct LabelBenchOptions {
  int64_t height = 768, width = 1152;
  int64_t steps = 4;  // timed steps, after one warm-up step
  std::string dir;    // where the synth archive goes (empty: a temporary folder, removed)
};

// Writes a synth archive (not timed), then times per step the reads of the detector's channels, the
// candidates, the stitching and the mask. One object: bench, detector, grid, steps, threads,
// candidates_per_step, tracks, read_s_per_step, candidates_s_per_step, mask_s_per_step, stitch_s_total,
// core_s_per_step_io_excluded/included, teca_core_s_per_step, teca_ratio_io_included, note.
nlohmann::json bench_label(const LabelBenchOptions& o);

}  // namespace climseg::bench
