// The stall inspector: heartbeat files written by a helper thread while a rank's state persists,
// read by the lowest-ranked waiting rank to name the ranks that have not reached a collective.
#include "parallel/watchdog.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/timer.hpp"
#include "parallel/mpi_util.hpp"

namespace climseg::parallel {
namespace {

std::atomic<Watchdog*> g_current{nullptr};

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

double env_seconds(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || !std::isfinite(d) || d < 0)
    fail_usage("{}='{}' is not a number of seconds >= 0", name, v);
  return d;
}

// "0.4 s", "75 s".
std::string seconds(double s) {
  s = std::max(0.0, s);
  return s < 10 ? fmt::format("{:.1f} s", s) : fmt::format("{:.0f} s", s);
}

std::string describe(const RankState& s, double now) {
  if (s.in_collective) return fmt::format("in '{}' #{} for {}", s.collective, s.sequence, seconds(now - s.since));
  if (s.step >= 0) return fmt::format("computing step {} for {}", s.step, seconds(now - s.since));
  return fmt::format("computing for {}", seconds(now - s.since));
}

}  // namespace

std::string StallReport::message() const {
  std::string step = self.step >= 0 ? fmt::format(" (step {})", self.step) : "";
  std::string out = fmt::format("collective '{}' #{}{} has waited {} on rank {}", self.collective, self.sequence, step,
                                seconds(waited_s), self.rank);
  if (!heartbeats)
    return out +
           "; set CLIMSEG_WATCHDOG_DIR to a directory every rank can reach to learn which ranks have "
           "not arrived (they are the ranks not printing this warning)";
  if (missing.empty())
    return out + fmt::format("; all {} ranks have arrived (the MPI library is slow)", arrived.size());
  out += fmt::format("; {} of {} ranks have not arrived:", missing.size(), missing.size() + arrived.size());
  const size_t shown = std::min<size_t>(missing.size(), 8);
  for (size_t i = 0; i < shown; ++i)
    out += fmt::format("{} rank {}: {}", i ? ";" : "", missing[i].rank, missing[i].why);
  if (missing.size() > shown) out += fmt::format("; and {} more", missing.size() - shown);
  return out;
}

StallReport diagnose(const RankState& self, const std::vector<std::optional<RankState>>& all, double now,
                     double waited_s, double stale_after_s) {
  StallReport r;
  r.self = self;
  r.waited_s = waited_s;
  r.heartbeats = true;
  for (size_t i = 0; i < all.size(); ++i) {
    const int rank = static_cast<int>(i);
    if (rank == self.rank) {
      r.arrived.push_back(rank);
      continue;
    }
    const auto& s = all[i];
    if (!s) {
      r.missing.push_back({rank, "no heartbeat file (not started, or stopped before its first heartbeat)"});
      continue;
    }
    const std::string host = s->host.empty() ? "" : fmt::format(" (host {})", s->host);
    if (now - s->written > stale_after_s) {
      r.missing.push_back(
          {rank, fmt::format("no heartbeat for {}{}: process stopped or node lost", seconds(now - s->written), host)});
      continue;
    }
    if (s->in_collective && s->sequence == self.sequence && s->collective == self.collective) {
      r.arrived.push_back(rank);
      continue;
    }
    std::string why = describe(*s, now) + host;
    if (s->in_collective && s->sequence == self.sequence)
      why += fmt::format(": a different collective at the same position ('{}' here): the ranks' code paths diverged",
                         self.collective);
    r.missing.push_back({rank, why});
  }
  return r;
}

std::string heartbeat_path(const std::string& dir, int rank) { return fmt::format("{}/rank-{:06d}.json", dir, rank); }

std::string to_json(const RankState& s) {
  nlohmann::json j = {{"rank", s.rank},
                      {"host", s.host},
                      {"pid", s.pid},
                      {"in_collective", s.in_collective},
                      {"collective", s.collective},
                      {"sequence", s.sequence},
                      {"step", s.step},
                      {"since", s.since},
                      {"written", s.written}};
  return j.dump();
}

std::optional<RankState> read_heartbeat(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    nlohmann::json j = nlohmann::json::parse(ss.str());
    RankState s;
    s.rank = j.at("rank").get<int>();
    s.host = j.at("host").get<std::string>();
    s.pid = j.at("pid").get<int64_t>();
    s.in_collective = j.at("in_collective").get<bool>();
    s.collective = j.at("collective").get<std::string>();
    s.sequence = j.at("sequence").get<uint64_t>();
    s.step = j.at("step").get<int64_t>();
    s.since = j.at("since").get<double>();
    s.written = j.at("written").get<double>();
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

WatchdogOptions watchdog_options_from_env(WatchdogOptions d) {
  d.timeout_s = env_seconds("CLIMSEG_WATCHDOG_TIMEOUT", d.timeout_s);
  d.abort_s = env_seconds("CLIMSEG_WATCHDOG_ABORT", d.abort_s);
  if (const char* dir = std::getenv("CLIMSEG_WATCHDOG_DIR"); dir != nullptr && *dir != '\0') d.directory = dir;
  return d;
}

Watchdog::Watchdog(const Comm& comm, WatchdogOptions options)
    : options_(std::move(options)), rank_(comm.rank()), size_(comm.size()), host_(host_name()) {
  if (!(options_.timeout_s > 0)) fail_usage("watchdog: the timeout must be > 0 s (got {})", options_.timeout_s);
  if (options_.abort_s > 0 && options_.abort_s < options_.timeout_s) options_.abort_s = options_.timeout_s;
  // Heartbeats must be fresher than a stall is long, or a report would read states from before it.
  options_.heartbeat_s = std::clamp(options_.heartbeat_s, 0.02, options_.timeout_s / 4);
  if (!options_.directory.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options_.directory, ec);
    if (ec) fail("watchdog: cannot create the heartbeat directory '{}': {}", options_.directory, ec.message());
  }
  Watchdog* expected = nullptr;
  if (!g_current.compare_exchange_strong(expected, this)) fail("watchdog: one is running already in this process");
  since_ = unix_now();
  since_mono_ = now_seconds();
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!options_.directory.empty()) {
    std::error_code ec;
    std::filesystem::remove(heartbeat_path(options_.directory, rank_), ec);
  }
  g_current.store(nullptr);
}

Watchdog* Watchdog::current() { return g_current.load(std::memory_order_acquire); }

void Watchdog::set_step(int64_t step) {
  std::lock_guard lock(mutex_);
  step_ = step;
}

void Watchdog::enter(const char* name) {
  std::lock_guard lock(mutex_);
  if (depth_++ > 0) return;
  collective_ = name;
  ++sequence_;
  since_ = unix_now();
  since_mono_ = now_seconds();
}

void Watchdog::leave() {
  std::lock_guard lock(mutex_);
  if (depth_ == 0 || --depth_ > 0) return;
  collective_.clear();
  since_ = unix_now();
  since_mono_ = now_seconds();
}

RankState Watchdog::state() const {
  std::lock_guard lock(mutex_);
  RankState s;
  s.rank = rank_;
  s.host = host_;
  s.pid = static_cast<int64_t>(getpid());
  s.in_collective = depth_ > 0;
  s.collective = collective_;
  s.sequence = sequence_;
  s.step = step_;
  s.since = since_;
  return s;
}

void Watchdog::write_heartbeat(const RankState& s) {
  const std::string path = heartbeat_path(options_.directory, rank_);
  const std::string tmp = path + ".tmp";
  RankState w = s;
  w.written = unix_now();
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    const std::string text = to_json(w);
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (std::fclose(f) == 0 && ok) std::rename(tmp.c_str(), path.c_str());
  }
}

void Watchdog::report(const RankState& s, double waited_s) {
  StallReport r;
  if (options_.directory.empty()) {
    r.self = s;
    r.waited_s = waited_s;
  } else {
    const double now = unix_now();
    const double stale = 3 * options_.heartbeat_s + 2;
    std::vector<std::optional<RankState>> all(static_cast<size_t>(size_));
    for (int q = 0; q < size_; ++q) {
      if (q == rank_) continue;
      all[static_cast<size_t>(q)] = read_heartbeat(heartbeat_path(options_.directory, q));
      // The lowest-ranked waiting rank reports; the others stay quiet (thousands of identical lines help no one).
      const auto& o = all[static_cast<size_t>(q)];
      if (q < rank_ && o && now - o->written <= stale && o->in_collective && o->sequence == s.sequence &&
          o->collective == s.collective) {
        log::debug("watchdog: waiting {:.0f} s in '{}' #{}; rank {} reports", waited_s, s.collective, s.sequence, q);
        return;
      }
    }
    r = diagnose(s, all, now, waited_s, stale);
  }
  reports_.fetch_add(1);
  if (options_.on_report)
    options_.on_report(r);
  else
    log::warn("watchdog: {}", r.message());
}

void Watchdog::run() {
  const double poll = std::clamp(options_.heartbeat_s / 2, 0.01, 1.0);
  uint64_t reported_sequence = 0;
  double next_report = 0, last_write = -1e30;
  uint64_t written_sequence = ~uint64_t{0};
  bool written_in = false;
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::duration<double>(poll));
    if (stop_) break;
    const double mono = now_seconds();
    const double in_state = mono - since_mono_;
    const bool in = depth_ > 0;
    const uint64_t seq = sequence_;
    lock.unlock();
    RankState s = state();
    // Heartbeats only while a state persists: a healthy run writes nothing, a stalled one keeps
    // every live rank's file fresh.
    if (!options_.directory.empty() && in_state >= options_.heartbeat_s &&
        (mono - last_write >= options_.heartbeat_s || seq != written_sequence || in != written_in)) {
      write_heartbeat(s);
      last_write = mono;
      written_sequence = seq;
      written_in = in;
    }
    if (in && in_state >= options_.timeout_s) {
      if (seq != reported_sequence) {
        reported_sequence = seq;
        next_report = options_.timeout_s;
      }
      const bool abort_now = options_.abort_s > 0 && in_state >= options_.abort_s;
      if (in_state >= next_report && !abort_now) {
        report(s, in_state);
        next_report += options_.timeout_s;
      }
      if (abort_now) {
        StallReport r;
        r.self = s;
        r.waited_s = in_state;
        std::string why = r.message();
        if (!options_.directory.empty()) {
          std::vector<std::optional<RankState>> all(static_cast<size_t>(size_));
          for (int q = 0; q < size_; ++q)
            if (q != rank_) all[static_cast<size_t>(q)] = read_heartbeat(heartbeat_path(options_.directory, q));
          why = diagnose(s, all, unix_now(), in_state, 3 * options_.heartbeat_s + 2).message();
        }
        std::string line = fmt::format("climseg: error: [rank {}/{}] watchdog: {}; ending the job (limit {:g} s)\n",
                                       rank_, size_, why, options_.abort_s);
        std::fputs(line.c_str(), stderr);
        std::fflush(stderr);
        // Deliberately from this thread: the main thread is stuck inside MPI, and the process ends here.
        if (mpi_running()) MPI_Abort(MPI_COMM_WORLD, 1);
        std::_Exit(1);
      }
    }
    lock.lock();
  }
}

}  // namespace climseg::parallel
