// MPI plumbing of the parallel library: values compared across ranks, rank lists.
#include "parallel/mpi_util.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace climseg::parallel {

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
