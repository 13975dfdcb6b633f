// The prefetching loader.
#include "readers/prefetch.hpp"

#include "core/threads.hpp"
#include "core/timer.hpp"

namespace climseg::io {

Prefetcher::Prefetcher(const Archive& archive, std::vector<int64_t> indices, int depth, bool background)
    : archive_(archive), indices_(std::move(indices)), depth_(static_cast<size_t>(std::max(1, depth))) {
  if (background) thread_ = background_thread([this] { run(); });
}

std::optional<Sample> Prefetcher::next_inline() {
  while (position_ < indices_.size()) {
    Sample s;
    if (!free_.empty()) {
      s = std::move(free_.back());
      free_.pop_back();
    }
    Stopwatch watch;
    archive_.load_into(indices_[position_++], s);
    const double seconds = watch.seconds();
    load_seconds_ += seconds;
    wait_seconds_ += seconds;
    if (!s.skip) return s;
    ++skipped_;
    free_.push_back(std::move(s));
  }
  return std::nullopt;
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  can_load_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Prefetcher::run() {
  for (int64_t i : indices_) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      can_load_.wait(lock, [&] { return stop_ || queue_.size() < depth_; });
      if (stop_) break;
    }
    try {
      Sample s;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!free_.empty()) {
          s = std::move(free_.back());
          free_.pop_back();
        }
      }
      Stopwatch watch;
      archive_.load_into(i, s);
      const double seconds = watch.seconds();
      std::lock_guard<std::mutex> lock(mutex_);
      load_seconds_ += seconds;
      if (s.skip) {
        ++skipped_;
        free_.push_back(std::move(s));
      } else {
        queue_.push_back(std::move(s));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      break;
    }
    can_take_.notify_one();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  can_take_.notify_all();
}

std::optional<Sample> Prefetcher::next() {
  if (!thread_.joinable()) return next_inline();
  Stopwatch watch;
  std::unique_lock<std::mutex> lock(mutex_);
  can_take_.wait(lock, [&] { return !queue_.empty() || done_; });
  wait_seconds_ += watch.seconds();
  if (!queue_.empty()) {
    Sample s = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    can_load_.notify_one();
    return s;
  }
  if (error_) std::rethrow_exception(error_);
  return std::nullopt;
}

void Prefetcher::recycle(Sample&& used) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (free_.size() < depth_ + 1) free_.push_back(std::move(used));
}

double Prefetcher::load_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return load_seconds_;
}

double Prefetcher::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wait_seconds_;
}

int64_t Prefetcher::skipped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_;
}

}  // namespace climseg::io
