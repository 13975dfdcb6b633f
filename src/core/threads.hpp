// Threads per process: OpenMP and OpenBLAS share one count, so MPI ranks on a node don't oversubscribe.
#pragma once

namespace climseg {

// Sets OpenMP's and OpenBLAS's thread counts. n <= 0 picks the default (see default_threads()).
void set_num_threads(int n);
int num_threads();
// Cores available to this process divided by the ranks on this node (at least 1). Honours
// CLIMSEG_NUM_THREADS, then OMP_NUM_THREADS, when set.
int default_threads();
// Cores this process may run on (its affinity mask).
int available_cores();
// The OpenBLAS core type it detected (e.g. "Cooperlake").
const char* blas_core_name();

}  // namespace climseg
