// Writes small NetCDF files for reader tests with the raw library, independently of climseg's writer.
#pragma once

#include <netcdf.h>

#include <filesystem>
#include <string>
#include <vector>

namespace climseg::test {

class NcBuilder {
 public:
  // cmode: NC_NETCDF4, NC_CLASSIC_MODEL, NC_64BIT_OFFSET, NC_64BIT_DATA or 0 (classic).
  explicit NcBuilder(std::filesystem::path path, int cmode = NC_NETCDF4);
  NcBuilder& dim(const std::string& name, size_t len);  // len 0: unlimited
  // Values are converted to the type by the library (row-major over the dims).
  NcBuilder& var(const std::string& name, nc_type type, std::vector<std::string> dims, std::vector<double> values = {});
  NcBuilder& text_var(const std::string& name, const std::string& dim, const std::string& text);
  NcBuilder& att(const std::string& var, const std::string& name, const std::string& text);
  NcBuilder& att(const std::string& var, const std::string& name, nc_type type, std::vector<double> values);
  // netCDF-4 storage of a variable: chunk sizes (empty: contiguous), deflate level (0: none), shuffle.
  NcBuilder& storage(const std::string& var, std::vector<size_t> chunks, int deflate = 0, bool shuffle = false);
  // Writes the file; throws std::runtime_error on a library error.
  void write();

  // Handy coordinates: a global grid of h rows (cell centres) and w columns from lon0.
  static std::vector<double> lats(size_t h, double first, double step);
  static std::vector<double> lons(size_t w, double first, double step);

 private:
  struct Att {
    std::string var, name, text;
    nc_type type = NC_CHAR;
    std::vector<double> values;
  };
  struct Var {
    std::string name;
    nc_type type;
    std::vector<std::string> dims;
    std::vector<double> values;
    std::string text;
    bool storage = false;
    std::vector<size_t> chunks;
    int deflate = 0;
    bool shuffle = false;
  };
  std::filesystem::path path_;
  int cmode_;
  std::vector<std::pair<std::string, size_t>> dims_;
  std::vector<Var> vars_;
  std::vector<Att> atts_;
};

}  // namespace climseg::test
