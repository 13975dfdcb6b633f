// One process-wide lock for every NetCDF/HDF5 library call: Debian's parallel HDF5 is built
// without thread safety, so the prefetch thread, writers and readers must take turns.
#pragma once

#include <mutex>

namespace climseg::io {

// Recursive so that a helper holding the lock may call another helper that takes it too.
std::recursive_mutex& hdf5_mutex();

// Hold for the whole span of NetCDF/HDF5 calls (open, read, close), never across a wait on
// another thread or an MPI collective that other threads of this process could need.
using Hdf5Lock = std::lock_guard<std::recursive_mutex>;

}  // namespace climseg::io
