// Where a pipeline's time goes: a few accumulated durations, kept by the pipeline itself and
// returned in its report (no globals), so that `climseg bench archive` can split a run's wall time
// into reading, compute and writing and say how much of the I/O was hidden behind compute.
#pragma once

#include <cstdint>

#include "core/timer.hpp"

namespace climseg {

struct StageTimes {
  // Busy time of each stage, wherever it ran. Reading includes decoding (decompression, unit
  // conversion, reorientation); writing includes compression, opening and closing outputs. Reads
  // and writes done on a background thread overlap compute, so these need not sum to the wall time.
  double read_s = 0, compute_s = 0, write_s = 0;
  // The time the pipeline's own thread spent on, or waiting for, reads and writes: the part of
  // read_s and write_s that was not hidden behind compute. Equal to read_s / write_s when I/O is
  // done inline.
  double read_wait_s = 0, write_wait_s = 0;
  // Opening the archive, loading the model, collectives, summaries: the rest of the pipeline's
  // thread's time. setup_s + read_wait_s + compute_s + write_wait_s is the pipeline's wall time.
  double setup_s = 0;
  int64_t steps = 0;  // time steps processed

  StageTimes& operator+=(const StageTimes& o) {
    read_s += o.read_s, compute_s += o.compute_s, write_s += o.write_s;
    read_wait_s += o.read_wait_s, write_wait_s += o.write_wait_s, setup_s += o.setup_s;
    steps += o.steps;
    return *this;
  }
  double io_s() const { return read_s + write_s; }
  double io_exposed_s() const { return read_wait_s + write_wait_s; }
  // The fraction of the I/O that ran while compute did (0 when there was none).
  double io_hidden_fraction() const {
    const double io = io_s();
    if (io <= 0) return 0.0;
    const double f = (io - io_exposed_s()) / io;
    return f < 0 ? 0.0 : f > 1 ? 1.0 : f;
  }
};

// Adds the seconds from construction to destruction to `total`.
class ScopedSeconds {
 public:
  explicit ScopedSeconds(double& total) : total_(total) {}
  ~ScopedSeconds() { total_ += watch_.seconds(); }
  ScopedSeconds(const ScopedSeconds&) = delete;
  ScopedSeconds& operator=(const ScopedSeconds&) = delete;

 private:
  double& total_;
  Stopwatch watch_;
};

}  // namespace climseg
