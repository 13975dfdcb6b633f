// CF semantics of one file: which variables are latitude, longitude, time and vertical levels,
// how each data variable maps onto (time, level, lat, lon), how values are packed and masked, and
// reading one (H, W) field unpacked, masked and in canonical orientation.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "geo/grid.hpp"
#include "readers/calendar.hpp"
#include "readers/netcdf_file.hpp"

namespace climseg::io {

struct DirectPlan;
class Hdf5Direct;
class ClassicDirect;

// The 16 channels of a DeepCAM HDF5 sample (`climate/data`, channel-last), in file order.
const std::vector<std::string>& deepcam_channels();

// A vertical axis (or another 1-D axis that selects one level of a field).
struct LevelAxis {
  std::string name;  // coordinate variable (and dimension) name, e.g. "lev", "plev", "level"
  std::string dim;
  std::vector<double> values;  // as in the file
  std::string units;           // as in the file ("hPa", "Pa", "millibars", "level", "m", ...)
  std::string standard_name;
  std::string positive;
  // Pascals per unit when the axis is a pressure (1 for Pa, 100 for hPa/mb/millibars), else 0.
  double pa_per_unit() const;
  bool is_pressure() const { return pa_per_unit() > 0; }
  // "1000, 925, 850 hPa" style list for messages.
  std::string describe() const;
};

// How a data variable sits on the axes of its file.
struct VarMeta {
  std::string name;
  std::string type;  // NetCDF type name: "float", "short", ...
  std::vector<std::string> dims;
  std::vector<int64_t> shape;
  std::string units, long_name, standard_name;
  int time_dim = -1;   // position in dims of the record (time) axis, -1 if none
  int level_dim = -1;  // position of the level axis, -1 if none
  int lat_dim = -1, lon_dim = -1;
  std::string level_axis;    // LevelAxis::name when level_dim >= 0
  bool field = false;        // readable as (time?, level?, ..., lat, lon)
  std::string why_not;       // when !field: why it cannot be a channel
  int deepcam_channel = -1;  // >= 0: channel k of DeepCAM's climate/data
  int64_t levels() const { return level_dim >= 0 ? shape[static_cast<size_t>(level_dim)] : 1; }
};

// What a file holds, found without reading any field. Gathered across MPI ranks as JSON.
struct FileMeta {
  std::string path;
  std::string format;
  std::string grid_error;  // set when the file is not on a latitude-longitude grid (why, one line)
  std::string lat_name, lon_name;
  std::vector<double> lat, lon;  // the file's own coordinates, in file order
  geo::Grid grid;                // canonical
  geo::Orientation orientation;  // file → canonical
  // The record axis. Empty time_dim: the file is a single sample (possibly with a scalar time).
  std::string time_name, time_dim;
  std::string time_units;           // as written (or as derived, see time_note)
  std::string calendar;             // as written; "" when absent
  bool time_decoded = false;        // time_units/calendar are CF and decode every value
  std::string time_note;            // why the time is not decoded, or where its units came from
  std::vector<double> time_values;  // raw values, one per step; empty when there is no time at all
  int64_t steps = 1;
  std::vector<LevelAxis> levels;
  std::vector<VarMeta> vars;  // data variables (coordinates and bounds excluded)
  bool deepcam = false;       // DeepCAM HDF5 layout: fields are the channels of climate/data

  const VarMeta* find_var(const std::string& name) const;
  const LevelAxis* find_level(const std::string& name) const;
  // The names of the variables that can be channels, for messages.
  std::vector<std::string> field_names() const;
  // Time units parsed; only valid when time_decoded.
  TimeUnits time_axis_units() const;
  // Decoded date of step t (time_decoded only).
  DateTime date(int64_t t) const;
};

void to_json(nlohmann::json& j, const FileMeta& m);
void from_json(const nlohmann::json& j, FileMeta& m);

// Scans a file's header and coordinates. Throws Error naming the file when it is missing, not a
// NetCDF/HDF5 file, truncated, or has inconsistent coordinates; a file that opens but is not on a
// latitude-longitude grid (unstructured, curvilinear, station data) returns with grid_error set.
FileMeta scan_file(const std::string& path);

// Which level of `axis` a level specification selects: a value in hPa by default ("850"), or with
// units ("85000Pa", "850hPa", "850mb"), or "#k" for the k-th level (0-based). A value without units
// on a non-pressure axis is compared in the axis's own units. Returns -1 when no level matches.
int64_t find_level_index(const LevelAxis& axis, const std::string& level_spec);

// How values of a variable are turned into physical values and a mask.
struct Unpacking {
  bool packed = false;  // integer type, or scale_factor/add_offset present
  double scale = 1.0, offset = 0.0;
  bool is_unsigned = false;
  int bits = 0;                 // integer width for _Unsigned handling
  std::vector<double> missing;  // _FillValue, missing_value (and the type's default fill when no _FillValue)
  double valid_min = -INFINITY, valid_max = INFINITY;  // raw (packed) units
  bool integer = false;
  bool nan_fill = false;  // _FillValue or missing_value is NaN: NaNs are declared fill, not bad values
};

// NaN that is not a declared fill value, and ±Inf, are masked like fill values (they never reach a
// model) but counted: this returns how many the calling thread has flagged since its last call.
int64_t take_nonfinite();

// An open file for reading fields. Library calls take the HDF5 lock (core/h5.hpp: h5::LibraryLock) themselves;
// one reader must not be used by two threads at once (its scratch buffers are shared).
class FieldReader {
  // Holds the file open; scratch buffers are reused between reads.
 public:
  explicit FieldReader(const std::string& path);
  ~FieldReader();  // closes under the HDF5 lock
  FieldReader(FieldReader&&) noexcept;
  FieldReader& operator=(FieldReader&&) noexcept;

  const std::string& path() const { return file_.path(); }
  int ncid() const { return file_.id(); }

  // Reads variable `var` at record `t` (ignored when the variable has no record axis) and level
  // index `level` (ignored without a level axis) into `out`, (H, W) canonical, unpacked to physical
  // values. Every invalid value (_FillValue, missing_value, outside valid_range, NaN) is NaN in
  // `out`; returns how many there are (finish with finish_mask()).
  int64_t read(const FileMeta& meta, const VarMeta& var, int64_t t, int64_t level, float* out);
  // Prepares reading (t, level) of `var` straight from the file's bytes (direct_read.hpp) when
  // the layout allows it (netCDF-4 contiguous/chunked float, shuffle/deflate; netCDF-3 float);
  // false otherwise (then use read()). `u` gets the
  // variable's unpacking rules. Execute the plan with execute_direct(), then flag_invalid() and
  // to_canonical(), on any thread.
  bool plan_direct(const FileMeta& meta, const VarMeta& var, int64_t t, int64_t level, DirectPlan& plan, Unpacking& u);

  // Frees what read() keeps between calls of one sample (DeepCAM's transposed (16, H, W) block).
  void drop_cache();

  // Reads a 1-D or scalar numeric variable whole (coordinates, hybrid coefficients). Empty when absent.
  std::vector<double> read_vector(const std::string& name);

  // The unpacking rules of a variable, from its attributes.
  Unpacking unpacking(const VarMeta& var);

 private:
  NcFile file_;
  std::unique_ptr<Hdf5Direct> direct_;
  std::unique_ptr<ClassicDirect> classic_;
  bool direct_tried_ = false;
  std::vector<float> scratch_f_;
  std::vector<double> scratch_d_;
  int deepcam_loaded_ = -1;           // record of the cached DeepCAM block, -1 none
  std::vector<float> deepcam_block_;  // (H, W, 16)
};

// The unpacking rules of `var` in an open file or group `ncid`.
Unpacking unpacking_of(int ncid, const VarMeta& var, const std::string& path);

// Reads rows [row0, row0 + rows) of the file's own latitude order (all longitudes) of `var` at
// record `t` and level index `level` into `dst`, (rows, W) in file order, unpacked, every invalid
// value NaN. Returns how many are invalid. `scratch` is reused between calls. Takes the HDF5 lock.
int64_t read_rows(int ncid, const std::string& path, const VarMeta& var, int64_t t, int64_t level, int64_t row0,
                  int64_t rows, float* dst, std::vector<double>& scratch);

// Marks every invalid value of a float field as NaN and applies scale/offset; returns the count.
int64_t flag_invalid(float* x, int64_t n, const Unpacking& u);

// NaN values (invalid, as read() leaves them) among n.
int64_t count_invalid(const float* x, int64_t n);

// After read(): NaN → 0 in `data` and 0 in `valid` (1 elsewhere), both (n).
void finish_mask(float* data, float* valid, int64_t n);

}  // namespace climseg::io
