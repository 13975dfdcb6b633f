// Loading the next samples on a background thread while the current ones are used, with a bound
// on how many are held in memory.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "readers/archive.hpp"

namespace climseg::io {

// Loads archive samples `indices` in that order on one background thread. At most `depth` loaded
// samples wait in the queue (plus the one being read), so memory stays at (depth + 1) samples
// beyond what the consumer holds. Samples marked skip (FillPolicy::skip) are passed over.
// An error while loading is rethrown by next(). Not copyable; the destructor stops the thread.
// The background thread never calls MPI (the process asks MPI for funneled threads only).
// With `background` false there is no thread: next() loads each sample itself (the serial
// pipeline, `--no-overlap`), with the same results.
class Prefetcher {
 public:
  Prefetcher(const Archive& archive, std::vector<int64_t> indices, int depth = 2, bool background = true);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The next sample in order, or nullopt at the end.
  std::optional<Sample> next();
  // Gives a sample's buffers back to be reused for a later one (no allocation in steady state).
  // The caller must hold no other view of its tensors.
  void recycle(Sample&& used);
  // Samples passed over because of FillPolicy::skip so far.
  int64_t skipped() const;
  // Seconds the background thread spent loading (reading and decoding) so far, and seconds next()
  // waited for a sample: the part of the loading that was not hidden behind the consumer's work.
  double load_seconds() const;
  double wait_seconds() const;

 private:
  void run();
  std::optional<Sample> next_inline();

  const Archive& archive_;
  std::vector<int64_t> indices_;
  size_t depth_;
  mutable std::mutex mutex_;
  std::condition_variable can_load_, can_take_;
  std::deque<Sample> queue_;
  std::vector<Sample> free_;
  std::exception_ptr error_;
  bool done_ = false;
  bool stop_ = false;
  int64_t skipped_ = 0;
  double load_seconds_ = 0, wait_seconds_ = 0;
  size_t position_ = 0;  // next index to load inline
  std::thread thread_;
};

}  // namespace climseg::io
