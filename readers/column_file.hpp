// CF files of unstructured columns, laid out as CAM-SE / E3SM history files: a column dimension (ncol)
// with lat(ncol), lon(ncol), area(ncol), a record time axis, and variables (time, ncol). The writer
// makes synthetic column archives and native-grid outputs; the reader gives one variable's step as a
// flat (N) float array with fill values as NaN.
#pragma once

#include <netcdf.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/atomic_file.hpp"
#include "geo/unstructured.hpp"
#include "readers/sample.hpp"
#include "readers/scrip.hpp"
#include "readers/stats.hpp"
#include "readers/writer.hpp"  // Attr

namespace climseg::io {

struct ColumnVar {
  std::string name;
  nc_type type = NC_FLOAT;  // NC_FLOAT, NC_DOUBLE, NC_BYTE, NC_INT
  bool has_time = true;     // (time, ncol) or (ncol)
  std::vector<Attr> attrs;
  std::optional<double> fill_value;  // written as _FillValue; NaN inputs become it
};

struct ColumnFileSpec {
  std::vector<double> lat, lon;  // (N) degrees
  std::vector<double> area;      // (N) steradians; empty: no area variable
  std::string column_dim = "ncol";
  std::string time_units, calendar;  // empty units: no time axis
  std::vector<ColumnVar> variables;
  std::vector<Attr> global_attrs;  // Conventions is added
  int deflate_level = 1;
};

// The spec of an output on `grid`'s columns (lat, lon, area from the grid).
ColumnFileSpec column_spec(const geo::UnstructuredGrid& grid);

// Writes atomically: nothing appears under the final name until close().
class ColumnWriter {
 public:
  ColumnWriter(const std::filesystem::path& path, ColumnFileSpec spec);
  ~ColumnWriter();
  ColumnWriter(const ColumnWriter&) = delete;
  ColumnWriter& operator=(const ColumnWriter&) = delete;
  void write_time(int64_t t, double value);
  // One step (N values) of a (time, ncol) variable, or the whole of an (ncol) one (t ignored).
  void write(const std::string& var, int64_t t, std::span<const float> values);
  void close();

 private:
  int var_id(const std::string& name) const;
  std::filesystem::path path_;
  ColumnFileSpec spec_;
  std::unique_ptr<AtomicOutput> out_;
  int nc_ = -1, time_var_ = -1;
  std::vector<int> ids_;
};

// One step of a variable of a column file as (N) floats, scale_factor/add_offset applied, fill and
// missing values as NaN. `step` is ignored for a variable without a time dimension. Throws Error
// naming the file and variable when it is not (time, ncol) or (ncol) over `column_dim`.
std::vector<float> read_column_step(const std::filesystem::path& path, const std::string& var,
                                    const std::string& column_dim, int64_t step);
// Number of time steps of a column file's variable (1 without a time dimension).
int64_t column_steps(const std::filesystem::path& path, const std::string& var, const std::string& column_dim);

// An archive of column files (the same columns in every file): its steps in file order and the
// channels read from them. Channels are variables over (time, column) or (column), by name.
class ColumnArchive {
 public:
  struct Step {
    std::string file;
    int64_t time_index = 0;  // along the file's time axis (0 without one)
    double time_value = 0;   // in time_units (0 without a time axis)
  };
  // `inputs` as for io::Archive (files, folders, globs, @lists); `vars` empty: every numeric field over
  // the columns except coordinates (lat, lon, area, ...). Throws Error naming the file when a file is
  // not a column file or has other columns than the first.
  static ColumnArchive open(const std::vector<std::string>& inputs, const std::vector<std::string>& vars = {});
  // Whether the first of `inputs` is a column file (not lat-lon).
  static bool is_columns(const std::vector<std::string>& inputs);

  const ColumnLayout& layout() const { return layout_; }
  int64_t size() const { return int64_t(steps_.size()); }
  const std::vector<Step>& steps() const { return steps_; }
  const std::vector<std::string>& files() const { return files_; }
  const std::vector<std::string>& channel_names() const { return names_; }
  const std::vector<std::string>& channel_units() const { return units_; }
  const std::string& time_units() const { return time_units_; }
  const std::string& calendar() const { return calendar_; }
  // Step `index` as a Sample of shape (C, N, 1): "rows" are the columns (so per-row weights are per
  // column), grid.lat the columns' latitudes; `valid` marks fill values. time_iso is decoded.
  Sample sample(int64_t index) const;
  // Time of step `index` in days from the time units' epoch (the step index without a time axis), and
  // as an ISO date ("" when the units cannot be decoded).
  double days(int64_t index) const;
  std::string iso(int64_t index) const;
  // Channel `name` of step `index` as (N) floats, NaN where missing.
  std::vector<float> read(const std::string& name, int64_t index) const;

 private:
  ColumnLayout layout_;
  std::vector<Step> steps_;
  std::vector<std::string> files_, names_, units_;
  std::vector<double> lat_;
  std::string time_units_, calendar_;
};

// Statistics of a column archive's channels (the lat-lon accumulators on (C, N, 1) samples): steps
// split over the ranks of `comm` in contiguous blocks, merged in rank order; `weights` per column
// (cell areas for --area-weighted) or empty; `percentiles` a second pass when not empty.
ChannelStats column_statistics(const ColumnArchive& archive, const std::vector<double>& percentiles,
                               const std::vector<double>& weights, const Comm& comm);

// inspect's semantic view of a column file: the grid (layout, columns, cubed sphere, global or not,
// cells, neighbours, total area), the time axis and the channels; and its text form.
nlohmann::json describe_columns(const std::filesystem::path& path);
std::string format_columns(const nlohmann::json& semantic);

}  // namespace climseg::io
