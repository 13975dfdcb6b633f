// `climseg bench archive`: the real predict and label pipelines over a whole deflated archive like
// CAM's h2 files, per step: wall seconds, core-seconds, the split between reading (and decoding),
// compute and writing, and how much of the I/O was hidden behind compute (core/stage_times.hpp).
// Collective over the ranks of a communicator; starts no process (the peers are the front end's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "readers/overlap.hpp"

namespace climseg::bench {

struct ArchiveBenchOptions {
  std::string in;   // an archive to run over (empty: a synth archive is written, not timed)
  std::string dir;  // where the archive (when written) and the outputs go (empty: a temporary folder, removed)
  int64_t height = 768, width = 1152;
  int64_t files = 4, steps_per_file = 3;
  int deflate = 1;    // of the written archive (CAM writes its history files at level 1)
  std::string model;  // ClimateNet's weights or a climseg checkpoint
  // Jobs in order: "predict", or a label detector list ("tc", "tc,ar", "tc,ar,waves").
  std::vector<std::string> jobs = {"predict", "tc", "tc,ar"};
  io::Overlap overlap = io::Overlap::automatic;  // the pipelines' background reading and writing
  bool probabilities = false;
};

// One run: the archive is prepared by the constructor (collective), the jobs run by run() (collective).
class ArchiveBench {
 public:
  ArchiveBench(const ArchiveBenchOptions& o, const Comm& comm);
  ~ArchiveBench();  // removes the temporary folder
  ArchiveBench(const ArchiveBench&) = delete;
  ArchiveBench& operator=(const ArchiveBench&) = delete;

  // The archive's folder (or the --in inputs' first entry) and its grid and step count.
  const std::string& archive() const { return archive_; }
  int64_t steps() const { return steps_; }
  // A folder under the bench's working folder (removed with it when temporary), for a peer's outputs.
  std::string scratch(const std::string& name) const { return (work_ / name).string(); }
  std::string grid() const;

  // Runs one job; every rank returns the same object: bench, job, grid, steps, files, ranks,
  // threads, overlap, wall_s, wall_s_per_step, core_s, core_s_per_step, read_s, read_exposed_s,
  // compute_s, write_s, write_exposed_s, setup_s (each the mean over ranks), split_s (setup +
  // read_exposed + compute + write_exposed), io_hidden_fraction, steady_s_per_step ((wall - setup)
  // / steps: the steps without loading the model and opening the archive), outputs (files written).
  nlohmann::json run(const std::string& job);

 private:
  void prepare();  // the archive written or found, its size read

  ArchiveBenchOptions o_;
  const Comm& comm_;
  std::filesystem::path work_;
  bool temporary_ = false;
  std::string archive_;
  int64_t steps_ = 0, files_ = 0, height_ = 0, width_ = 0;
};

}  // namespace climseg::bench
