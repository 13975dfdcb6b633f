// An independent parser of the netCDF-3 header (classic, 64-bit offset, CDF5), used to check that
// the data the header promises is really in the file before the library is trusted with it.
#pragma once

#include <cstdint>
#include <filesystem>

namespace climseg::io {

struct CdfLayout {
  int version = 0;  // 1 classic, 2 64-bit offset, 5 CDF5
  int64_t numrecs = 0;
  int64_t header_bytes = 0;
  int64_t required_bytes = 0;  // the file must be at least this long to hold every variable's data
  int64_t largest_dimension = 0;
};

// Parses the header; throws Error naming the file when it is malformed (counts that run past the
// end of the file, negative sizes, unknown types) or when the file is shorter than its data.
CdfLayout check_cdf_file(const std::filesystem::path& path);

}  // namespace climseg::io
