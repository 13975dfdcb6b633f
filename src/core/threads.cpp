// Thread counts for OpenMP and OpenBLAS.
#include "core/threads.hpp"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

// OpenBLAS keeps a thread pool of its own; another BLAS (CLIMSEG_BLAS_IS_OPENBLAS=0, cmake/Dependencies.cmake)
// follows OpenMP's thread count or its own environment variable (MKL_NUM_THREADS, ...).
#ifndef CLIMSEG_BLAS_IS_OPENBLAS
#error "CLIMSEG_BLAS_IS_OPENBLAS comes with the climseg_blas target (cmake/Dependencies.cmake)"
#endif
#if CLIMSEG_BLAS_IS_OPENBLAS
extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_corename(void);
}
#endif

namespace climseg {
namespace {
int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return 0;
  try {
    return std::max(0, std::stoi(v));
  } catch (...) {
    return 0;
  }
}
}  // namespace

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, omp_get_num_procs());
}

int online_cores() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : available_cores();
}

int threads_for(int mask_cores, int online, int local_ranks) {
  // (libgomp's omp_get_num_procs() counts the affinity mask too, so it cannot tell a bound rank
  // from an unbound one: the machine's count comes from sysconf.)
  const int share = online / std::max(1, local_ranks);
  return std::max(1, std::min(mask_cores, share));
}

int local_ranks() {
  int n = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (n <= 0) n = env_int("SLURM_NTASKS_PER_NODE");
  return n > 0 ? n : 1;
}

int core_share() { return threads_for(available_cores(), online_cores(), local_ranks()); }

int default_threads() {
  if (int n = env_int("CLIMSEG_NUM_THREADS"); n > 0) return n;
  if (int n = env_int("OMP_NUM_THREADS"); n > 0) return n;
  return core_share();
}

void set_num_threads(int n) {
  if (n <= 0) n = default_threads();
  omp_set_num_threads(n);
#if CLIMSEG_BLAS_IS_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

int num_threads() { return omp_get_max_threads(); }

int background_threads() { return std::max(1, core_share() - num_threads()); }

void adopt_threads(int n) { omp_set_num_threads(std::max(1, n)); }

const char* blas_core_name() {
#if CLIMSEG_BLAS_IS_OPENBLAS
  return openblas_get_corename();
#else
  return "unknown (not OpenBLAS)";
#endif
}

}  // namespace climseg
