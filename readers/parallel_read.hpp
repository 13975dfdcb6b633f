// One very large grid read by many ranks at once: each rank takes a contiguous band of latitude
// rows of the same variable, read collectively with parallel NetCDF-4 (nc_open_par, NC_COLLECTIVE).
#pragma once

#include <cstdint>
#include <string>

#include "core/mpi.hpp"
#include "core/tensor.hpp"
#include "geo/grid.hpp"

namespace climseg::io {

struct LatBand {
  geo::Grid grid;           // the whole canonical grid
  int64_t row0 = 0;         // first canonical row of this rank's band
  int64_t rows = 0;         // rows in the band (block_partition of H over the ranks)
  Tensor data;              // (rows, W) canonical, 0 where invalid
  Tensor valid;             // (rows, W) 1/0; numel 0 when all valid
  bool collective = false;  // read with parallel NetCDF-4 collective I/O (else independent reads)
};

// Reads `channel` (TMQ, U@850: the ChannelSpec syntax without a file selector) at record `t` of one
// file, rank r of `comm` getting canonical rows block_partition(H, r, P). Collective over `comm`:
// every rank must call it. netCDF-4/HDF5 files are opened with nc_open_par and read with
// NC_COLLECTIVE; netCDF-3 files (no PnetCDF in this build) are read independently by each rank.
// With one rank it is a plain serial read.
LatBand read_lat_band(const std::string& path, const std::string& channel, int64_t t, const Comm& comm);

}  // namespace climseg::io
