// Collective NetCDF open/create on a communicator, and whole 1-D variables read under the HDF5 lock.
#include "core/netcdf.hpp"

#include <netcdf.h>
#include <netcdf_par.h>

#include "core/h5.hpp"

namespace climseg::netcdf {

int open_parallel(const std::string& path, int mode, const Comm& comm, int* ncid) {
  return nc_open_par(path.c_str(), mode, comm.handle(), MPI_INFO_NULL, ncid);
}

int create_parallel(const std::string& path, int mode, const Comm& comm, int* ncid) {
  return nc_create_par(path.c_str(), mode, comm.handle(), MPI_INFO_NULL, ncid);
}

std::optional<std::vector<std::vector<int>>> read_1d_ints(const std::string& path,
                                                          const std::vector<std::string>& names) {
  h5::LibraryLock lock(h5::library_mutex());
  int id = -1;
  if (nc_open(path.c_str(), NC_NOWRITE, &id) != NC_NOERR) return std::nullopt;
  std::vector<std::vector<int>> out;
  bool ok = true;
  for (const std::string& name : names) {
    int var = -1, ndims = 0, dim = -1;
    size_t len = 0;
    if (nc_inq_varid(id, name.c_str(), &var) != NC_NOERR || nc_inq_varndims(id, var, &ndims) != NC_NOERR ||
        ndims != 1 || nc_inq_vardimid(id, var, &dim) != NC_NOERR || nc_inq_dimlen(id, dim, &len) != NC_NOERR) {
      ok = false;
      break;
    }
    std::vector<int>& v = out.emplace_back(len);
    if (nc_get_var_int(id, var, v.data()) != NC_NOERR) {
      ok = false;
      break;
    }
  }
  nc_close(id);
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace climseg::netcdf
