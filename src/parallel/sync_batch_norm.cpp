// Synchronised BatchNorm over MPI.
#include "parallel/sync_batch_norm.hpp"

#include "core/timer.hpp"
#include "parallel/watchdog.hpp"

namespace climseg::parallel {

SyncBatchNorm::SyncBatchNorm(const Comm& comm) : comm_(comm.dup()) {}

void SyncBatchNorm::allreduce_sum(double* data, int64_t n) {
  ++calls_;
  if (!comm_.is_mpi() || comm_.size() == 1) return;
  CollectiveScope scope("synchronised BatchNorm");
  const double t0 = now_seconds();
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_DOUBLE, MPI_SUM, comm_.handle()),
            "allreduce (synchronised BatchNorm)");
  seconds_ += now_seconds() - t0;
}

}  // namespace climseg::parallel
