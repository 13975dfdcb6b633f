// A stall inspector (like Horovod's): a thread per rank that notices when the main thread has been
// inside a collective for too long and reports which ranks have not arrived, learned from small
// heartbeat files in a directory every rank can reach (the watchdog thread makes no MPI calls).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/mpi.hpp"

namespace climseg::parallel {

// What one rank is doing, as its heartbeat file says (one JSON object per file).
struct RankState {
  int rank = -1;
  std::string host;
  int64_t pid = 0;
  bool in_collective = false;
  std::string collective;  // name of the collective it is in (empty when computing)
  uint64_t sequence = 0;   // collectives entered so far (the same count on every rank when in step)
  int64_t step = -1;       // the training step the caller last set (-1: none)
  double since = 0;        // Unix time (s) it entered its current state
  double written = 0;      // Unix time (s) the heartbeat was written
};

// Why a collective is stuck, seen from a rank waiting in it.
struct StallReport {
  RankState self;            // the waiting rank
  double waited_s = 0;       // how long it has waited
  bool heartbeats = false;   // false: no directory, so the missing ranks are unknown
  std::vector<int> arrived;  // ranks waiting in the same collective (same sequence and name)
  struct Missing {
    int rank = -1;
    std::string why;  // "computing step 41 for 75 s", "in 'checksum' #13", "no heartbeat for 40 s", ...
  };
  std::vector<Missing> missing;  // ranks that have not arrived, with what they are doing
  // One line: "collective 'gradient allreduce' #1234 (step 200) has waited 61 s on rank 0; not
  // arrived: rank 3 (host n017): computing step 199 for 75 s; ..."
  std::string message() const;
};

// Compares every rank's heartbeat (nullopt: no file) with the waiting rank's own state. A rank
// whose heartbeat is older than `stale_after_s` is reported as silent (process stopped or node lost).
StallReport diagnose(const RankState& self, const std::vector<std::optional<RankState>>& all, double now,
                     double waited_s, double stale_after_s);

// Heartbeat files: "<dir>/rank-000017.json".
std::string heartbeat_path(const std::string& dir, int rank);
std::string to_json(const RankState& s);
// Parses a heartbeat file; nullopt when it is absent or unreadable (e.g. being replaced).
std::optional<RankState> read_heartbeat(const std::string& path);

struct WatchdogOptions {
  double timeout_s = 300;   // report a collective that has lasted this long (and again every timeout_s)
  double abort_s = 0;       // end the whole job (MPI_Abort, exit 1) once a collective lasts this long; 0: never
  std::string directory;    // heartbeat directory every rank can reach (shared file system, or node-local
                            // /dev/shm for one node); empty: each waiting rank reports only itself
  double heartbeat_s = 10;  // how often each rank rewrites its heartbeat file
  // Receives each report instead of the log (tests, or a caller that wants to act on stalls).
  std::function<void(const StallReport&)> on_report;
};

// `defaults` with overrides from the environment: CLIMSEG_WATCHDOG_TIMEOUT, CLIMSEG_WATCHDOG_ABORT
// (seconds), CLIMSEG_WATCHDOG_DIR. Throws UsageError naming a variable that is not a number.
WatchdogOptions watchdog_options_from_env(WatchdogOptions defaults = {});

// One per process (a second one throws). The main thread marks collectives with CollectiveScope;
// the watchdog thread wakes a few times per timeout, rewrites this rank's heartbeat file, and
// reports stalls. Every collective of this library (GradSync, SyncBatchNorm, state checks) is
// marked already; callers mark their own (e.g. the validation reduction) the same way.
class Watchdog {
 public:
  Watchdog(const Comm& comm, WatchdogOptions options);
  ~Watchdog();  // stops the thread and removes this rank's heartbeat file
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The training step, shown in reports (optional).
  void set_step(int64_t step);
  const WatchdogOptions& options() const { return options_; }
  int reports() const { return reports_.load(); }  // stall reports made so far

  // The live watchdog, or null.
  static Watchdog* current();

  // Called by CollectiveScope.
  void enter(const char* name);
  void leave();
  RankState state() const;

 private:
  void run();
  void write_heartbeat(const RankState& s);
  void report(const RankState& s, double waited_s);

  WatchdogOptions options_;
  int rank_ = 0, size_ = 1;
  std::string host_;
  mutable std::mutex mutex_;  // guards the state below (main thread writes, watchdog thread reads)
  int depth_ = 0;
  std::string collective_;
  uint64_t sequence_ = 0;
  int64_t step_ = -1;
  double since_ = 0;       // Unix time of the last state change
  double since_mono_ = 0;  // the same on the monotonic clock (stall durations)
  std::atomic<int> reports_{0};
  bool stop_ = false;
  std::condition_variable wake_;
  std::thread thread_;
};

// Marks the main thread as inside a collective for the watchdog (no-op without one). Nested scopes
// count as the outermost one.
class CollectiveScope {
 public:
  explicit CollectiveScope(const char* name) : w_(Watchdog::current()) {
    if (w_) w_->enter(name);
  }
  ~CollectiveScope() {
    if (w_) w_->leave();
  }
  CollectiveScope(const CollectiveScope&) = delete;
  CollectiveScope& operator=(const CollectiveScope&) = delete;

 private:
  Watchdog* w_;
};

}  // namespace climseg::parallel
