// The process-wide NetCDF/HDF5 lock.
#include "readers/hdf5_lock.hpp"

#include "core/h5.hpp"

namespace climseg::io {

// The same mutex as core's HDF5 helpers (checkpoints): NetCDF-4 reads on a prefetch thread go
// through the same non-thread-safe HDF5 library as a checkpoint written by the main thread.
std::recursive_mutex& hdf5_mutex() { return h5::library_mutex(); }

}  // namespace climseg::io
