// `climseg remap`: whole files between unstructured columns and lat-lon grids with one weights matrix
// (built once on the root and broadcast, optionally written as a SCRIP weights file for CDO/NCO).
// Columns -> lat-lon writes CF lat-lon files; lat-lon -> columns writes CAM-SE-like column files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "geo/remap.hpp"

namespace climseg::io {

struct RemapFilesOptions {
  std::vector<std::string> inputs;  // files, folders, globs, @lists
  std::filesystem::path out_dir;
  std::string vars;  // comma-separated; empty: every field (columns) or every 2-D field (lat-lon)
  // Target: "HxW" (a CAM lat-lon grid, -90..90 inclusive, from 0 east) for column inputs; a cubed
  // sphere ("ne30np4") or a file with columns (CAM-SE ncol, SCRIP grid, UGRID mesh) for lat-lon inputs.
  std::string to;
  geo::RemapMethod method = geo::RemapMethod::bilinear;
  std::filesystem::path weights_out;  // when not empty: the SCRIP weights file
  std::string suffix = ".remap.nc";
};

struct RemapFilesReport {
  int64_t files = 0, steps = 0;  // written by this rank
  std::string source, target;    // descriptions of the two grids
  int64_t links = 0;             // nonzero weights
};

RemapFilesReport remap_files(const RemapFilesOptions& options, const Comm& comm);

}  // namespace climseg::io
