// An independent parser of the netCDF-3 header (classic, 64-bit offset, CDF5), used to check that
// the data the header promises is really in the file before the library is trusted with it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace climseg::io {

// Where one variable's data lie in a netCDF-3 file.
struct CdfVar {
  std::string name;
  int type = 0;         // NetCDF type code (5 = float, stored big-endian)
  int64_t begin = 0;    // byte offset of its data (of record 0 for record variables)
  int64_t bytes = 0;    // data bytes (one record's for record variables)
  bool record = false;  // has the unlimited dimension (first)
};

struct CdfLayout {
  int version = 0;  // 1 classic, 2 64-bit offset, 5 CDF5
  int64_t numrecs = 0;
  int64_t header_bytes = 0;
  int64_t required_bytes = 0;  // the file must be at least this long to hold every variable's data
  int64_t largest_dimension = 0;
  int64_t record_bytes = 0;  // distance between consecutive records of a record variable
  std::vector<CdfVar> vars;
};

// Parses the header; throws Error naming the file when it is malformed (counts that run past the
// end of the file, negative sizes, unknown types) or when the file is shorter than its data.
// Reads only as much of the file as the header needs (1 MiB first, more when it is longer).
CdfLayout check_cdf_file(const std::filesystem::path& path);

}  // namespace climseg::io
