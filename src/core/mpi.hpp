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

// A communicator. Comm::world() is MPI_COMM_WORLD when MPI is active, otherwise a serial stand-in
// of size 1 for which every collective is the identity.
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

  // Ends every rank of the job: prints the message (one line) and calls MPI_Abort.
  [[noreturn]] void abort(int code, const std::string& message) const;

  // Splits into sub-communicators by color; owns the new communicator.
  Comm split(int color, int key) const;
  void free();

 private:
  Comm(MPI_Comm c, bool owned);
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  bool owned_ = false;
};

}  // namespace climseg
