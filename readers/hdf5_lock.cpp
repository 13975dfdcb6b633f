// The process-wide NetCDF/HDF5 lock.
#include "readers/hdf5_lock.hpp"

namespace climseg::io {

std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex m;
  return m;
}

}  // namespace climseg::io
