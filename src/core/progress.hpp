// Progress of long work: a redrawn bar on a terminal, periodic plain lines otherwise (logs, Slurm).
#pragma once

#include <cstdint>
#include <string>

namespace climseg {

class Progress {
 public:
  // total <= 0 means unknown. Only rank 0 draws; quiet logging or enabled=false silences it.
  Progress(std::string label, int64_t total, bool enabled = true);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Advances by n units; note is shown after the counts (e.g. "loss 0.31").
  void advance(int64_t n = 1, const std::string& note = {});
  void finish();
  int64_t done() const { return done_; }

  // Seconds between plain lines when stderr is not a terminal.
  static void set_plain_interval(double seconds);

 private:
  void draw(bool final);

  std::string label_;
  std::string note_;
  int64_t total_;
  int64_t done_ = 0;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  double start_;
  double last_draw_ = 0;
};

}  // namespace climseg
