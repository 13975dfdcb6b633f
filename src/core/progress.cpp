// Progress of long work: a bar on a TTY, plain lines otherwise.
#include "core/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "core/log.hpp"
#include "core/timer.hpp"

namespace climseg {
namespace {
double g_plain_interval = 10.0;

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--";
  auto t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
  return fmt::format("{}:{:02}", t / 60, t % 60);
}
}  // namespace

void Progress::set_plain_interval(double seconds) { g_plain_interval = seconds; }

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && log::enabled(log::Level::info)),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(now_seconds()) {}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::advance(int64_t n, const std::string& note) {
  done_ += n;
  if (!note.empty()) note_ = note;
  if (!enabled_) return;
  double now = now_seconds();
  double interval = tty_ ? 0.1 : g_plain_interval;
  if (now - last_draw_ >= interval) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_ && done_ > 0) draw(true);
}

void Progress::draw(bool final) {
  double elapsed = now_seconds() - start_;
  double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string counts = total_ > 0 ? fmt::format("{}/{}", done_, total_) : fmt::format("{}", done_);
  std::string timing;
  if (final) {
    timing = fmt::format("{:.3g}/s, {} elapsed", rate, format_duration(elapsed));
  } else if (total_ > 0 && rate > 0) {
    timing = fmt::format("{:.3g}/s, ETA {}", rate, format_duration((total_ - done_) / rate));
  } else {
    timing = fmt::format("{:.3g}/s", rate);
  }
  std::string note = note_.empty() ? "" : ", " + note_;
  if (tty_) {
    std::string bar;
    if (total_ > 0) {
      const int width = 28;
      int filled = static_cast<int>(width * std::min<double>(1.0, double(done_) / double(total_)));
      bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    }
    std::fprintf(stderr, "\r\033[K%s %s%s (%s%s)%s", label_.c_str(), bar.c_str(), counts.c_str(), timing.c_str(),
                 note.c_str(), final ? "\n" : "");
    std::fflush(stderr);
  } else {
    log::info("{}: {} ({}{})", label_, counts, timing, note);
  }
}

}  // namespace climseg
