// Threads per process: OpenMP and OpenBLAS share one count, so MPI ranks on a node don't oversubscribe.
#pragma once

#include <thread>
#include <utility>

namespace climseg {

// Sets OpenMP's and OpenBLAS's thread counts. n <= 0 picks the default (see default_threads()).
void set_num_threads(int n);
int num_threads();
// The node's cores divided by the ranks on this node (OMPI_COMM_WORLD_LOCAL_SIZE, else
// SLURM_NTASKS_PER_NODE, else 1), but no more than this process's affinity mask allows (at least
// 1): threads_for(available_cores(), online_cores(), local ranks). Honours CLIMSEG_NUM_THREADS,
// then OMP_NUM_THREADS, when set.
int default_threads();
// The rule behind default_threads(): max(1, min(mask_cores, online_cores / local_ranks)). Unbound
// ranks share the node; ranks bound to a core each get that core; ranks bound to a socket with
// others still get their fair share, not the socket's every core.
int threads_for(int mask_cores, int online_cores, int local_ranks);
// Ranks on this node: OMPI_COMM_WORLD_LOCAL_SIZE, else SLURM_NTASKS_PER_NODE, else 1.
int local_ranks();
// This process's share of its node's cores: threads_for(available_cores(), online_cores(),
// local_ranks()) (what default_threads() gives without CLIMSEG_NUM_THREADS / OMP_NUM_THREADS).
int core_share();
// Cores online on this machine, whatever this process's affinity mask.
int online_cores();
// Cores this process may run on (its affinity mask).
int available_cores();
// OpenMP threads for work on a background thread (read-ahead, write-behind) beside compute on
// num_threads() threads: the cores of this process's share that compute leaves, at least 1.
int background_threads();
// Gives the calling thread OpenMP teams of n threads (omp_set_num_threads: a thread's own setting).
void adopt_threads(int n);
// A std::thread running f with teams of background_threads(). A plain std::thread starts with
// OpenMP's process default (every core, or OMP_NUM_THREADS), not the count set_num_threads chose:
// its parallel regions then ran, and spun, on cores the compute threads and other ranks were using
// (4 ranks x (1 compute + a 2-thread loader team) on 2 cores made a 0.6 s training test take 15 s).
template <class F>
std::thread background_thread(F&& f) {
  const int n = background_threads();
  return std::thread([n, fn = std::forward<F>(f)]() mutable {
    adopt_threads(n);
    fn();
  });
}
// The OpenBLAS core type it detected (e.g. "Cooperlake").
const char* blas_core_name();

}  // namespace climseg
