// MPI plumbing of the parallel library: checked calls, owned communicators, rank lists.
#include "parallel/mpi_util.hpp"

#include <fmt/format.h>

#include <utility>

#include "core/error.hpp"

namespace climseg::parallel {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fail("MPI {} failed: {}", what, std::string(text, static_cast<size_t>(len)));
}

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized != 0 && finalized == 0;
}

OwnedComm::OwnedComm(MPI_Comm c) : comm_(c) {
  if (c != MPI_COMM_NULL) {
    MPI_Comm_rank(c, &rank_);
    MPI_Comm_size(c, &size_);
    // Errors come back as codes (turned into exceptions by check_mpi), as on MPI_COMM_WORLD.
    MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
  }
}

OwnedComm::~OwnedComm() { reset(); }

OwnedComm::OwnedComm(OwnedComm&& o) noexcept
    : comm_(std::exchange(o.comm_, MPI_COMM_NULL)), rank_(o.rank_), size_(std::exchange(o.size_, 1)) {}

OwnedComm& OwnedComm::operator=(OwnedComm&& o) noexcept {
  if (this != &o) {
    reset();
    comm_ = std::exchange(o.comm_, MPI_COMM_NULL);
    rank_ = o.rank_;
    size_ = std::exchange(o.size_, 1);
  }
  return *this;
}

void OwnedComm::reset() {
  if (comm_ != MPI_COMM_NULL && mpi_running()) MPI_Comm_free(&comm_);
  comm_ = MPI_COMM_NULL;
  rank_ = 0;
  size_ = 1;
}

OwnedComm OwnedComm::dup(const Comm& comm) {
  if (!comm.is_mpi()) return OwnedComm();
  MPI_Comm out = MPI_COMM_NULL;
  check_mpi(MPI_Comm_dup(comm.handle(), &out), "comm_dup");
  return OwnedComm(out);
}

std::vector<uint64_t> allgather_u64(MPI_Comm comm, uint64_t mine) {
  if (comm == MPI_COMM_NULL) return {mine};
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::vector<uint64_t> all(static_cast<size_t>(size));
  check_mpi(MPI_Allgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm), "allgather");
  return all;
}

std::string list_ranks(const std::vector<int>& ranks, size_t max_listed) {
  std::string out;
  for (size_t i = 0; i < ranks.size() && i < max_listed; ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  if (ranks.size() > max_listed) out += fmt::format(" and {} more", ranks.size() - max_listed);
  return out;
}

void require_same_on_all_ranks(MPI_Comm comm, uint64_t mine, const std::string& what, const std::string& hint) {
  std::vector<uint64_t> all = allgather_u64(comm, mine);
  std::vector<int> differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ.push_back(static_cast<int>(r));
  if (!differ.empty())
    fail("{} differs between ranks: rank{} {} differ{} from rank 0; {}", what, differ.size() > 1 ? "s" : "",
         list_ranks(differ), differ.size() > 1 ? "" : "s", hint);
}

}  // namespace climseg::parallel
