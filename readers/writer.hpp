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

// Names in VarDef::dims that stand for the output's own axes, whatever the input calls them
// (lat/lon, latitude/longitude, y/x, time, timestep, month...): the writer puts OutputSpec's names
// in their place, and leaves kTimeAxis out when the output has no time dimension (a scalar time or
// none). One VarDef therefore fits every layout.
inline const std::string kTimeAxis = "@time";
inline const std::string kLatAxis = "@lat";
inline const std::string kLonAxis = "@lon";

// A variable of the output file. Gridded variables end in the latitude and longitude axes
// ({kTimeAxis, [others...], kLatAxis, kLonAxis}); their data are given canonical (south to north,
// longitude from 0) and written in the file's orientation. Any variable that has the latitude or
// longitude dimension is reoriented along it.
struct VarDef {
  std::string name;
  nc_type type = NC_FLOAT;           // NC_FLOAT, NC_DOUBLE, NC_BYTE, NC_UBYTE, NC_SHORT, NC_INT, NC_INT64
  std::vector<std::string> dims;     // outermost first; the time axis (if any) must come first
  std::vector<Attr> attrs;           // units, long_name, standard_name, ...
  std::optional<double> fill_value;  // written as _FillValue; NaN inputs become it
  // Packing of an integer variable: stored = round((value - add_offset) / scale_factor). Written as
  // the scale_factor/add_offset attributes (as float) when packed is true.
  bool packed = false;
  double scale_factor = 1.0;
  double add_offset = 0.0;
  int deflate_level = -1;  // -1: the file's default; 0: none
};

// The gridded dimensions (time, lat, lon) of the output, whatever its names.
inline std::vector<std::string> grid_dims() { return {kTimeAxis, kLatAxis, kLonAxis}; }

// A float field (time, lat, lon) with CF units and long_name.
VarDef float_field(std::string name, std::string units, std::string long_name,
                   std::vector<std::string> dims = grid_dims());
// A class mask as CF flags: byte, flag_values 0..n-1, flag_meanings (spaces become underscores),
// _FillValue -1 (never a class) so that unwritten steps read as missing.
VarDef mask_field(std::string name, const std::vector<std::string>& class_names, std::string long_name = {},
                  std::vector<std::string> dims = grid_dims());
// A probability in [0, 1]: float, units "1", valid_range 0 1.
VarDef probability_field(std::string name, std::string long_name, std::vector<std::string> dims = grid_dims());

// How an output holds time. record: a dimension (one step per record) with, unless time_name is
// empty, a coordinate variable; scalar: one step, a scalar coordinate variable that the gridded
// variables name in `coordinates` (ERA5's single time); none: one step and no time at all.
enum class TimeKind { none, scalar, record };

// Everything an output file holds besides the data.
struct OutputSpec {
  geo::Grid grid;                // canonical coordinates of the gridded variables
  geo::Orientation orientation;  // the file's own (identity: canonical)
  std::string lat_name = "lat";  // coordinate variable names
  std::string lon_name = "lon";
  std::string lat_dim, lon_dim;    // their dimensions' names ("": the variable's name)
  nc_type coord_type = NC_DOUBLE;  // type of the lat/lon coordinate variables
  std::vector<Attr> lat_attrs;     // added to (or replacing) units, long_name, standard_name, axis
  std::vector<Attr> lon_attrs;
  // The file's own coordinate values (file order), written as they are when given (H values; W or,
  // with a repeated meridian, W + 1); otherwise rebuilt from the canonical grid and the orientation.
  std::vector<double> file_lat, file_lon;

  // Time axis (see TimeKind). time_attrs are written exactly as given: set_time() fills the usual
  // CF ones, output_like() copies the input's.
  TimeKind time_kind = TimeKind::none;
  std::string time_dim = "time";   // record: the dimension
  std::string time_name = "time";  // the coordinate variable ("" with record: a dimension without one)
  nc_type time_type = NC_DOUBLE;
  std::vector<Attr> time_attrs;
  int64_t time_steps = 0;  // record: 0 unlimited (records are appended); > 0 fixed length

  // Other dimensions (name, length), e.g. {"lev", 10}, {"nbnd", 2}. Their coordinate variables,
  // when wanted, are ordinary variables below.
  std::vector<std::pair<std::string, int64_t>> dims;
  std::vector<VarDef> variables;
  std::vector<Attr> global_attrs;  // title, source, institution, ... (Conventions and history are added)
  Provenance provenance;

  int deflate_level = 4;  // for every variable with a time dimension or >= 4096 values; 0 disables
  bool shuffle = true;    // byte shuffle before deflate (helps floats)

  // A CF record axis `time` in these units ("days since 2000-01-01 00:00:00") and calendar, with
  // long_name, standard_name and axis; `extra` attributes are added (or replace those).
  void set_time(const std::string& units, const std::string& calendar, std::vector<Attr> extra = {});
  bool has_time() const { return time_kind != TimeKind::none; }
  // Text attributes of the time coordinate ("" when absent).
  std::string time_units() const;
  std::string calendar() const;
  const std::string& lat_dimension() const { return lat_dim.empty() ? lat_name : lat_dim; }
  const std::string& lon_dimension() const { return lon_dim.empty() ? lon_name : lon_dim; }
};

// An output laid out like an input file: its grid and orientation, its latitude/longitude names
// (variables and dimensions), coordinate values, types and attributes (units, long_name,
// standard_name, ...), its time axis as it is (a record dimension, a scalar or none; the
// coordinate's name, type, values' units, calendar and other attributes verbatim), and its history
// (kept below ours). A time whose units can be read but are not written as CF writes them (the
// GEMPAK files' reftime "1996 01 05 00:00") gets CF units ("hours since 1996-01-05 00:00:00") and a
// note in `history`; a time that cannot be decoded keeps its raw values and units (a warning says
// so) and never gets dates made up. Variables, other dimensions and global attributes are left for
// the caller to add; the caller writes each step's time value as the input has it
// (SampleInfo::time_value).
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

  // Serial only: appends one time value and returns its index. An output without a time dimension
  // (TimeKind::scalar or none) has one step: its first call returns 0 (and writes the scalar time),
  // a second one fails.
  int64_t append_time(double value);
  // Time values of steps [t0, t0 + values.size()) (nothing to write for a record dimension without
  // a coordinate variable; a scalar time takes t0 = 0 and one value; none fails).
  void write_time(int64_t t0, std::span<const double> values);
  // A gridded variable for steps [t0, t0 + nt): data (nt, [other dims...], H, W) canonical.
  // A variable without a time dimension takes t0 = 0, nt = 1 (and is then written once): in an
  // output whose time is scalar or none, step 0 of a (kTimeAxis, kLatAxis, kLonAxis) variable.
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
