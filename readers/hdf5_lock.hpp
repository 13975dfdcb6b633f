// Transitional: the one process-wide NetCDF/HDF5 lock is core's h5::library_mutex() with
// h5::LibraryLock (core/h5.hpp); include that. These old names stay only until apps/cmd_label.cpp's
// raw NetCDF read moves into a library (issue 17), then this header goes.
#pragma once

#include <mutex>

#include "core/h5.hpp"

namespace climseg::io {

inline std::recursive_mutex& hdf5_mutex() { return h5::library_mutex(); }
using Hdf5Lock = h5::LibraryLock;

}  // namespace climseg::io
