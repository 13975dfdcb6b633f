// The MPI context: one initialisation per process, and a communicator that degrades to serial.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace climseg {

// Initialises MPI when the process was started by a launcher (mpirun, srun) or when forced, and
// finalises it on destruction. Without a launcher the process runs serially and never touches MPI,
// which keeps `climseg --help` and single-process tests fast.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv, bool force = false);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  static bool launched_by_launcher();
  static bool active();  // MPI_Init has run and MPI_Finalize has not

 private:
  bool owns_ = false;
};

// Throws Error("MPI <what> failed: <MPI's text>") when rc is not MPI_SUCCESS. The one check of MPI
// return codes (communicators return errors as codes: MPI_ERRORS_RETURN).
void check_mpi(int rc, const char* what);

// True between MPI_Init and MPI_Finalize, whoever initialised (handles must not be freed outside).
bool mpi_running();

class OwnedComm;

// A communicator that this object does NOT own: a view, cheap to copy, never freed through it.
// Comm::world() is MPI_COMM_WORLD when MPI is active, otherwise a serial stand-in of size 1 for which
// every collective is the identity. New communicators (split, dup) come back as an OwnedComm, the only
// type that frees one: a Comm copied from an OwnedComm must not outlive it.
class Comm {
 public:
  static Comm world();
  static Comm self();
  Comm() = default;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  bool is_mpi() const { return comm_ != MPI_COMM_NULL; }
  MPI_Comm handle() const { return comm_; }

  void barrier() const;
  void allreduce_sum(double* data, int64_t n) const;
  void allreduce_sum(float* data, int64_t n) const;
  void allreduce_sum(int64_t* data, int64_t n) const;
  void allreduce_max(double* data, int64_t n) const;
  void allreduce_min(double* data, int64_t n) const;
  double sum(double v) const;
  int64_t sum(int64_t v) const;
  double max(double v) const;
  double min(double v) const;
  // True on every rank when the flag is true on any rank.
  bool any(bool flag) const;
  void broadcast(void* data, int64_t bytes, int root = 0) const;
  void broadcast(std::string& s, int root = 0) const;
  // Every rank's string, in rank order, on every rank.
  std::vector<std::string> allgather(const std::string& mine) const;

  // Point to point and waiting without spinning. Ranks that wait here sleep a few milliseconds
  // between polls instead of spinning in MPI, so an idle rank leaves its core to the ranks that work
  // (several ranks per node, oversubscribed tests). Serial communicators must not call these.
  static constexpr int kAnySource = -1;
  // The source rank of a message with `tag` waiting to be received from `source` (or kAnySource),
  // or -1 when none has arrived; does not wait.
  int probe(int source, int tag) const;
  // Receives one message with `tag` from `source` (or kAnySource), sleeping while none has arrived;
  // `from` gets the sender's rank.
  std::string recv_string(int source, int tag, int* from = nullptr) const;
  void send_string(int dest, int tag, const std::string& s) const;
  // broadcast(s, 0) and barrier() whose waiting ranks sleep between polls.
  void broadcast_sleeping(std::string& s) const;
  void barrier_sleeping() const;

  // Ends every rank of the job: prints the message (one line) and calls MPI_Abort.
  [[noreturn]] void abort(int code, const std::string& message) const;

  // Sub-communicators by color (MPI_Comm_split, collective); serial when this one is.
  OwnedComm split(int color, int key) const;
  // A duplicate (MPI_Comm_dup, collective) whose messages never mix with this one's.
  OwnedComm dup() const;

 private:
  friend class OwnedComm;
  explicit Comm(MPI_Comm c);
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

// A communicator this object owns (split, dup, or a handle adopted from MPI_Comm_split_type and
// friends), freed on destruction while MPI runs. Move-only, so no two objects can free one handle.
// Use it wherever a Comm is wanted: it converts to `const Comm&`.
class OwnedComm {
 public:
  OwnedComm() = default;
  // Adopts `c` (MPI_COMM_NULL: serial); sets MPI_ERRORS_RETURN so failures reach check_mpi.
  explicit OwnedComm(MPI_Comm c);
  ~OwnedComm();
  OwnedComm(OwnedComm&& o) noexcept;
  OwnedComm& operator=(OwnedComm&& o) noexcept;
  OwnedComm(const OwnedComm&) = delete;
  OwnedComm& operator=(const OwnedComm&) = delete;

  const Comm& comm() const& { return comm_; }
  const Comm& comm() const&& = delete;
  // A view for calls that take `const Comm&`. Not from a temporary: `Comm c = world.split(...)`
  // would keep a handle that the temporary frees at once, so it does not compile.
  operator const Comm&() const& { return comm_; }  // NOLINT(google-explicit-constructor)
  operator const Comm&() const&& = delete;
  MPI_Comm handle() const { return comm_.handle(); }
  bool is_mpi() const { return comm_.is_mpi(); }
  int rank() const { return comm_.rank(); }
  int size() const { return comm_.size(); }
  // Frees the handle now (collective in MPI's sense: every member should free it).
  void reset();
  // Leaves the handle allocated (used when requests may still be pending on it at destruction).
  void leak() { comm_ = Comm(); }

 private:
  Comm comm_;
};

}  // namespace climseg
