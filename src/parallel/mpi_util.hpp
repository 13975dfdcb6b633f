// MPI plumbing of the parallel library: error checks that throw climseg::Error, and an owned
// duplicate communicator (RAII) so each component's collectives never interleave with others'.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/mpi.hpp"

namespace climseg::parallel {

// Throws Error("MPI <what> failed: <MPI's text>") when rc is not MPI_SUCCESS.
void check_mpi(int rc, const char* what);

// True between MPI_Init and MPI_Finalize (handles must not be freed outside that window).
bool mpi_running();

// A communicator this object owns (MPI_Comm_dup / split results); freed on destruction while MPI
// runs. A null handle stands for "serial": size 1, rank 0, no MPI calls.
class OwnedComm {
 public:
  OwnedComm() = default;
  explicit OwnedComm(MPI_Comm c);
  ~OwnedComm();
  OwnedComm(OwnedComm&& o) noexcept;
  OwnedComm& operator=(OwnedComm&& o) noexcept;
  OwnedComm(const OwnedComm&) = delete;
  OwnedComm& operator=(const OwnedComm&) = delete;

  // A duplicate of comm's handle (collective over comm); serial when comm is not MPI.
  static OwnedComm dup(const Comm& comm);

  MPI_Comm get() const { return comm_; }
  bool is_mpi() const { return comm_ != MPI_COMM_NULL; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Leaves the handle allocated (used when requests may still be pending on it at destruction).
  void leak() { comm_ = MPI_COMM_NULL; }

 private:
  void reset();
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

// Every rank's 64-bit value, in rank order (MPI_Allgather); {mine} when serial.
std::vector<uint64_t> allgather_u64(MPI_Comm comm, uint64_t mine);

// "1, 3, 5" (at most `max_listed` numbers, then "and N more").
std::string list_ranks(const std::vector<int>& ranks, size_t max_listed = 16);

// Throws Error naming the ranks whose value differs from rank 0's (same message on every rank).
// `what` says what was compared ("parameter layout"), `hint` how to fix it.
void require_same_on_all_ranks(MPI_Comm comm, uint64_t mine, const std::string& what, const std::string& hint);

}  // namespace climseg::parallel
