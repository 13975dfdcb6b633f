// Latitude bands of one variable read by all ranks, collectively where the format allows.
#include "readers/parallel_read.hpp"

#include <netcdf.h>
#include <netcdf_par.h>

#include "core/error.hpp"
#include "core/h5.hpp"
#include "core/netcdf.hpp"
#include "readers/archive.hpp"
#include "readers/cf_file.hpp"
#include "readers/netcdf_file.hpp"
#include "readers/orientation.hpp"
#include "readers/partition.hpp"

namespace climseg::io {

LatBand read_lat_band(const std::string& path, const std::string& channel, int64_t t, const Comm& comm) {
  // Rank 0 reads the header and coordinates; the others get them by broadcast.
  std::string meta_text, error;
  if (comm.is_root()) {
    try {
      meta_text = nlohmann::json(scan_file(path)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  comm.broadcast(error);
  if (!error.empty()) fail("{}", error);
  comm.broadcast(meta_text);
  const FileMeta meta = nlohmann::json::parse(meta_text).get<FileMeta>();
  if (!meta.grid_error.empty()) fail("{}: {}", path, meta.grid_error);

  const ChannelSpec spec = ChannelSpec::parse(channel);
  const VarMeta* var = meta.find_var(spec.var);
  if (var == nullptr) fail("{}: unknown variable '{}'", path, spec.var);
  if (!var->field || meta.deepcam) fail("{}: variable '{}' cannot be read in latitude bands", path, spec.var);
  int64_t level = 0;
  if (var->level_dim >= 0 && !spec.level.empty()) {
    level = find_level_index(*meta.find_level(var->level_axis), spec.level);
    if (level < 0) fail("{}: variable '{}' has no level {}", path, spec.var, spec.level);
  } else if (var->levels() > 1) {
    fail("{}: variable '{}' has {} levels: choose one", path, spec.var, var->levels());
  }

  LatBand band;
  band.grid = meta.grid;
  const int64_t H = meta.grid.height(), W = meta.grid.width();
  const Block rows = block_partition(H, comm.rank(), comm.size());
  band.row0 = rows.begin;
  band.rows = rows.size();
  // Canonical rows [b, e) are file rows [H - e, H - b) when the file stores north first.
  const int64_t file_row0 = meta.orientation.lat_descending ? H - rows.end : rows.begin;

  band.data = Tensor::empty({band.rows, W});
  std::vector<float> raw(static_cast<size_t>(band.rows * meta.orientation.file_width(W)));
  std::vector<double> scratch;
  const bool parallel = comm.is_mpi() && comm.size() > 1 && meta.format.rfind("netCDF-4", 0) == 0;
  int64_t bad = 0;
  {
    h5::LibraryLock lock(h5::library_mutex());
    int ncid = -1;
    if (parallel) {
      require_netcdf_or_hdf5(path);
      nc_check(netcdf::open_parallel(path, NC_NOWRITE, comm, &ncid), path, "cannot open in parallel");
      int vid = nc_find_var(ncid, var->name);
      int rc = nc_var_par_access(ncid, vid, NC_COLLECTIVE);
      if (rc != NC_NOERR) nc_close(ncid);
      nc_check(rc, path, "collective access", var->name);
      band.collective = true;
      try {
        bad = read_rows(ncid, path, *var, t, level, file_row0, band.rows, raw.data(), scratch);
      } catch (...) {
        nc_close(ncid);
        throw;
      }
      nc_close(ncid);
    } else {
      NcFile f(path);
      bad = read_rows(f.id(), path, *var, t, level, file_row0, band.rows, raw.data(), scratch);
    }
  }
  if (band.rows > 0) to_canonical(raw.data(), band.data.data(), band.rows, W, meta.orientation);
  if (bad > 0) {
    band.valid = Tensor::empty({band.rows, W});
    finish_mask(band.data.data(), band.valid.data(), band.rows * W);
  }
  return band;
}

}  // namespace climseg::io
