// CF-compliant NetCDF-4 output: gridded fields given on the canonical grid are written back in the
// orientation of the input, with time in the input's units and calendar, deflated, chunked per time
// step, with provenance; serially or collectively by all ranks into one file (parallel NetCDF-4).
#pragma once

#include <netcdf.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "geo/grid.hpp"
#include "readers/cf_file.hpp"
#include "readers/orientation.hpp"  // file_latitudes, file_longitudes, to_file_order
#include "readers/write_provenance.hpp"

namespace climseg::io {

// One attribute to write: text, or numbers stored with a NetCDF type (NC_BYTE, NC_SHORT, NC_INT,
// NC_FLOAT, NC_DOUBLE, ...). Numbers are converted to the type when written.
struct Attr {
  std::string name;
  nc_type type = NC_CHAR;
  std::string text;
  std::vector<double> numbers;

  static Attr str(std::string name, std::string text);
  static Attr num(std::string name, nc_type type, std::vector<double> numbers);
  static Attr f64(std::string name, double value) { return num(std::move(name), NC_DOUBLE, {value}); }
  static Attr f32(std::string name, double value) { return num(std::move(name), NC_FLOAT, {value}); }
  static Attr i32(std::string name, double value) { return num(std::move(name), NC_INT, {value}); }
};

// A variable of the output file. Gridded variables end in the latitude and longitude dimensions
// ("time", [others...], "lat", "lon"); their data are given canonical (south to north, longitude
// from 0) and written in the file's orientation. Any variable that has the latitude or longitude
// dimension is reoriented along it.
struct VarDef {
  std::string name;
  nc_type type = NC_FLOAT;           // NC_FLOAT, NC_DOUBLE, NC_BYTE, NC_UBYTE, NC_SHORT, NC_INT, NC_INT64
  std::vector<std::string> dims;     // outermost first; the time dimension (if any) must come first
  std::vector<Attr> attrs;           // units, long_name, standard_name, ...
  std::optional<double> fill_value;  // written as _FillValue; NaN inputs become it
  // Packing of an integer variable: stored = round((value - add_offset) / scale_factor). Written as
  // the scale_factor/add_offset attributes (as float) when packed is true.
  bool packed = false;
  double scale_factor = 1.0;
  double add_offset = 0.0;
  int deflate_level = -1;  // -1: the file's default; 0: none
};

// A float field (time, lat, lon) with CF units and long_name.
VarDef float_field(std::string name, std::string units, std::string long_name,
                   std::vector<std::string> dims = {"time", "lat", "lon"});
// A class mask as CF flags: byte, flag_values 0..n-1, flag_meanings (spaces become underscores),
// _FillValue -1 (never a class) so that unwritten steps read as missing.
VarDef mask_field(std::string name, const std::vector<std::string>& class_names, std::string long_name = {},
                  std::vector<std::string> dims = {"time", "lat", "lon"});
// A probability in [0, 1]: float, units "1", valid_range 0 1.
VarDef probability_field(std::string name, std::string long_name,
                         std::vector<std::string> dims = {"time", "lat", "lon"});

// Everything an output file holds besides the data.
struct OutputSpec {
  geo::Grid grid;                // canonical coordinates of the gridded variables
  geo::Orientation orientation;  // the file's own (identity: canonical)
  std::string lat_name = "lat";  // dimension and coordinate variable names
  std::string lon_name = "lon";
  std::string time_name = "time";
  nc_type coord_type = NC_DOUBLE;  // type of the lat/lon coordinate variables
  std::vector<Attr> lat_attrs;     // added to (or replacing) units, long_name, standard_name, axis
  std::vector<Attr> lon_attrs;
  // The file's own coordinate values (file order), written as they are when given (same length as
  // the grid); otherwise they are rebuilt from the canonical grid and the orientation.
  std::vector<double> file_lat, file_lon;

  // Time axis: CF units ("days since 2000-01-01 00:00:00") and calendar as in the input. Empty
  // units: the file has no time dimension.
  std::string time_units;
  std::string calendar = "standard";
  std::vector<Attr> time_attrs;  // e.g. bounds; long_name, units, calendar, standard_name, axis come by default
  int64_t time_steps = 0;        // 0: unlimited (records are appended); > 0: fixed length

  // Other dimensions (name, length), e.g. {"lev", 10}, {"nbnd", 2}. Their coordinate variables,
  // when wanted, are ordinary variables below.
  std::vector<std::pair<std::string, int64_t>> dims;
  std::vector<VarDef> variables;
  std::vector<Attr> global_attrs;  // title, source, institution, ... (Conventions and history are added)
  Provenance provenance;

  int deflate_level = 4;  // for every variable with a time dimension or >= 4096 values; 0 disables
  bool shuffle = true;    // byte shuffle before deflate (helps floats)
};

// An output laid out like an input file: its grid and orientation, its latitude/longitude/time names,
// coordinate values and attributes (units, long_name, standard_name, ...), its time units and
// calendar, and its history (kept below ours). Variables, dimensions and global attributes are left
// for the caller to add.
OutputSpec output_like(const FileMeta& input);

// Writes one NetCDF-4 file. The file appears under its final name only at close() (temporary name,
// fsync, rename); a writer destroyed without close() leaves nothing behind.
//
// Serial use: CfWriter w(path, spec); t = w.append_time(v); w.write("TMQ", t, data); ... w.close();
// Collective use (one file written by every rank of comm, parallel NetCDF-4): every rank constructs
// the writer with the same path and spec and makes the same sequence of write calls (same variables,
// same order); each passes its own block (possibly empty: nt = 0 or nrows = 0), and close() is
// collective too. The result is the same file as a serial writer would produce.
class CfWriter {
 public:
  CfWriter(const std::filesystem::path& path, OutputSpec spec);
  CfWriter(const std::filesystem::path& path, OutputSpec spec, const Comm& comm);
  ~CfWriter();
  CfWriter(const CfWriter&) = delete;
  CfWriter& operator=(const CfWriter&) = delete;

  const OutputSpec& spec() const;
  const std::filesystem::path& path() const;  // the final name
  bool collective() const;
  // Time steps in the file so far (the largest written index + 1, over all ranks when collective).
  int64_t steps() const;

  // Serial only: appends one time value and returns its index.
  int64_t append_time(double value);
  // Time values of steps [t0, t0 + values.size()).
  void write_time(int64_t t0, std::span<const double> values);
  // A gridded variable for steps [t0, t0 + nt): data (nt, [other dims...], H, W) canonical.
  // A variable without a time dimension takes t0 = 0, nt = 1 (and is then written once).
  void write(const std::string& var, int64_t t0, int64_t nt, const float* data);
  void write(const std::string& var, int64_t t, const float* data) { write(var, t, 1, data); }
  // A latitude band of one step of a (time, lat, lon) variable: canonical rows [row0, row0 + nrows),
  // data (nrows, W).
  void write_rows(const std::string& var, int64_t t, int64_t row0, int64_t nrows, const float* data);
  // Any variable from doubles (coordinates, date(time), time_bnds(time, nbnd), hyam(lev), P0):
  // values of steps [t0, t0 + nt) in file order except that latitude/longitude dimensions are
  // given canonical. Variables without a time dimension: t0 = 0, nt = 1.
  void write_values(const std::string& var, int64_t t0, int64_t nt, std::span<const double> values);
  void write_values(const std::string& var, std::span<const double> values) { write_values(var, 0, 1, values); }

  // Adds or replaces a global text attribute after data were written (a summary computed while
  // writing, read back by a rerun that skips complete outputs). Collective writers: every rank,
  // same value.
  void set_global_attr(const std::string& name, const std::string& text);

  // Flushes, closes and renames the file into place. Collective when the writer is.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True once a writer abandoned a file whose library writes failed (disk full): HDF5's exit handler
// then crashes closing it (HDF5 1.10), so the program should leave with std::_Exit after reporting.
bool writer_left_files_unclosed();

}  // namespace climseg::io
