// RAII over NetCDF-C: an open file or group, with typed access to dimensions, variables and attributes.
#pragma once

#include <netcdf.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace climseg::io {

// Throws Error "<path>[: <var>]: <what>: <NetCDF message>" when rc != NC_NOERR.
void nc_check(int rc, const std::string& path, const std::string& what, const std::string& var = {});

// The on-disk format, from the file's first bytes (before any library call).
enum class FileKind {
  missing,
  directory,
  not_regular,
  empty,
  unknown,
  netcdf3_classic,
  netcdf3_64bit_offset,
  netcdf3_cdf5,
  hdf5
};
FileKind sniff_file(const std::filesystem::path& path);
// Throws Error with one clear line unless the path is a NetCDF or HDF5 file.
FileKind require_netcdf_or_hdf5(const std::filesystem::path& path);

// One attribute's value: numbers as doubles, text as a string.
struct AttValue {
  std::string name;
  nc_type type = NC_NAT;
  std::vector<double> numbers;
  std::string text;
  bool is_text() const { return type == NC_CHAR || type == NC_STRING; }
  std::string to_string() const;
};

const char* nc_type_name(nc_type t);
// Text from a file as valid UTF-8 (names and text attributes go into JSON and terminals): valid
// sequences are kept, every other byte is read as Latin-1 (old files write "°" as 0xB0).
std::string to_utf8(std::string_view bytes);

// An open NetCDF file (or one of its groups, which shares the file handle). Closed on destruction.
class NcFile {
 public:
  NcFile() = default;
  // Opens read-only, after checking the file's first bytes so that a text file, a directory or an
  // empty file gets a clear message instead of a library error code.
  explicit NcFile(const std::filesystem::path& path);
  ~NcFile();
  NcFile(NcFile&& other) noexcept;
  NcFile& operator=(NcFile&& other) noexcept;
  NcFile(const NcFile&) = delete;
  NcFile& operator=(const NcFile&) = delete;

  int id() const { return ncid_; }
  const std::string& path() const { return path_; }
  // "netCDF-3 classic", "netCDF-3 64-bit offset", "netCDF-3 CDF5", "netCDF-4", "netCDF-4 classic model", "HDF5".
  std::string format_name() const;

 private:
  int ncid_ = -1;
  std::string path_;
};

// Read-only helpers that take (ncid, path) so they work for groups as well as the root.
int nc_find_var(int ncid, const std::string& name);  // -1 when absent
std::string nc_var_name(int ncid, int varid);
std::vector<int> nc_var_dims(int ncid, int varid);
std::vector<size_t> nc_var_shape(int ncid, int varid);
std::string nc_dim_name(int ncid, int dimid);
size_t nc_dim_len(int ncid, int dimid);
std::vector<AttValue> nc_atts(int ncid, int varid, const std::string& path);
bool nc_has_att(int ncid, int varid, const std::string& name);
// Text attribute or "" when absent.
std::string nc_att_text(int ncid, int varid, const std::string& name);
// Numeric attribute values, empty when absent.
std::vector<double> nc_att_numbers(int ncid, int varid, const std::string& name);
std::vector<int> nc_groups(int ncid);
std::string nc_group_name(int ncid);

}  // namespace climseg::io
