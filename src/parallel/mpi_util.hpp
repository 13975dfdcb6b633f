// MPI plumbing of the parallel library: checks that a value agrees on every rank, and the lists of
// ranks its messages name. (check_mpi and the owned communicator are core's: core/mpi.hpp.)
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/mpi.hpp"

namespace climseg::parallel {

// Every rank's 64-bit value, in rank order (MPI_Allgather); {mine} when serial.
std::vector<uint64_t> allgather_u64(MPI_Comm comm, uint64_t mine);

// "1, 3, 5" (at most `max_listed` numbers, then "and N more").
std::string list_ranks(const std::vector<int>& ranks, size_t max_listed = 16);

// Throws Error naming the ranks whose value differs from rank 0's (same message on every rank).
// `what` says what was compared ("parameter layout"), `hint` how to fix it.
void require_same_on_all_ranks(MPI_Comm comm, uint64_t mine, const std::string& what, const std::string& hint);

}  // namespace climseg::parallel
