// Writing a pipeline's outputs on a background thread while it computes the next step: tasks run
// one after another, in the order posted, so every file receives the same library calls in the same
// order as when they run inline (the outputs are the same bytes). Library calls in a task take the
// HDF5 lock as they always do (core/h5.hpp); compute never holds it, so writes overlap compute.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace climseg::io {

class WriteBehind {
 public:
  // `background` false runs each task inside post() (the serial pipeline, `--no-overlap`). At most
  // `depth` tasks wait; post() blocks beyond that.
  explicit WriteBehind(bool background = true, int depth = 4);
  // Stops after the running task: tasks not run are dropped (call finish() for them to run). The
  // thread never calls MPI.
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Queues a task. The first task that threw makes the next post() or finish() rethrow its error;
  // the tasks after it are dropped.
  void post(std::function<void()> task);
  // Queues fn(data) and gives `data` back to the buffer pool afterwards.
  void post(std::vector<float> data, std::function<void(const float*)> fn);
  // A buffer of n floats from the pool (contents unspecified): no page faults in steady state.
  std::vector<float> buffer(size_t n);
  // Waits until every task has run; rethrows the first error.
  void finish();

  // Seconds spent running tasks, and seconds post() and finish() waited for them (the part of the
  // writing not hidden behind the caller's work).
  double busy_seconds() const;
  double wait_seconds() const;

 private:
  void run();
  void rethrow_locked(std::unique_lock<std::mutex>& lock);

  size_t depth_;
  mutable std::mutex mutex_;
  std::condition_variable can_post_, can_run_, idle_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::vector<float>> pool_;
  std::exception_ptr error_;
  bool running_ = false, stop_ = false;
  double busy_ = 0, wait_ = 0;
  std::thread thread_;
};

}  // namespace climseg::io
