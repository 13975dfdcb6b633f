// The NetCDF calls that live below the readers library: opening and creating a file collectively on
// a communicator (so that MPI handles stay in core), and the small whole-variable read the plotting
// code needs for coastlines. Every call here holds the process-wide HDF5 lock (h5::library_mutex)
// except the collective ones, whose callers hold it for the whole span of their NetCDF calls.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/mpi.hpp"

namespace climseg::netcdf {

// nc_open_par / nc_create_par with comm's handle and no MPI info; return the netCDF status code.
int open_parallel(const std::string& path, int mode, const Comm& comm, int* ncid);
int create_parallel(const std::string& path, int mode, const Comm& comm, int* ncid);

// The named 1-D variables of a file, whole, converted to int by the library (in the order of
// `names`); nullopt when the file cannot be opened or a variable is missing or not 1-D.
std::optional<std::vector<std::vector<int>>> read_1d_ints(const std::string& path,
                                                          const std::vector<std::string>& names);

}  // namespace climseg::netcdf
