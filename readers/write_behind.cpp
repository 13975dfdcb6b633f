// The background writer.
#include "readers/write_behind.hpp"

#include <algorithm>
#include <memory>

#include "core/threads.hpp"
#include "core/timer.hpp"

namespace climseg::io {

WriteBehind::WriteBehind(bool background, int depth) : depth_(static_cast<size_t>(std::max(1, depth))) {
  if (background) thread_ = background_thread([this] { run(); });
}

WriteBehind::~WriteBehind() {
  std::deque<std::function<void()>> dropped;  // destroyed outside the lock (they may hold writers)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    dropped.swap(queue_);
  }
  can_run_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WriteBehind::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      can_run_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
    }
    can_post_.notify_one();
    Stopwatch watch;
    std::exception_ptr error;
    try {
      task();
    } catch (...) {
      error = std::current_exception();
    }
    task = nullptr;  // what it captured is released before the task counts as done
    const double seconds = watch.seconds();
    std::deque<std::function<void()>> dropped;  // destroyed outside the lock
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ += seconds;
      running_ = false;
      if (error && !error_) {
        error_ = error;
        dropped.swap(queue_);
      }
    }
    idle_.notify_all();
    can_post_.notify_one();
  }
}

void WriteBehind::rethrow_locked(std::unique_lock<std::mutex>& lock) {
  if (!error_) return;
  std::exception_ptr e = error_;
  error_ = nullptr;
  lock.unlock();
  std::rethrow_exception(e);
}

void WriteBehind::post(std::function<void()> task) {
  if (!thread_.joinable()) {
    Stopwatch watch;
    task();
    const double seconds = watch.seconds();
    std::lock_guard<std::mutex> lock(mutex_);
    busy_ += seconds;
    wait_ += seconds;
    return;
  }
  Stopwatch watch;
  std::unique_lock<std::mutex> lock(mutex_);
  can_post_.wait(lock, [&] { return error_ || queue_.size() < depth_; });
  wait_ += watch.seconds();
  rethrow_locked(lock);
  queue_.push_back(std::move(task));
  lock.unlock();
  can_run_.notify_one();
}

void WriteBehind::post(std::vector<float> data, std::function<void(const float*)> fn) {
  // A shared buffer, so the task (a std::function, copyable) holds it without copying floats.
  auto held = std::make_shared<std::vector<float>>(std::move(data));
  post([this, held, fn = std::move(fn)] {
    fn(held->data());
    std::lock_guard<std::mutex> lock(mutex_);
    if (pool_.size() < depth_ + 2) pool_.push_back(std::move(*held));
  });
}

std::vector<float> WriteBehind::buffer(size_t n) {
  std::vector<float> b;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!pool_.empty()) {
      b = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  b.resize(n);
  return b;
}

void WriteBehind::finish() {
  if (!thread_.joinable()) return;  // inline: every task has run
  Stopwatch watch;
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [&] { return queue_.empty() && !running_; });
  wait_ += watch.seconds();
  rethrow_locked(lock);
}

double WriteBehind::busy_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return busy_;
}

double WriteBehind::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wait_;
}

}  // namespace climseg::io
