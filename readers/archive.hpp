// An archive of climate files seen as one time-ordered list of samples: files from a list, a glob
// or a directory; channels built from variables (TMQ), levels (U@850) or sibling files of the same
// time step; grids checked across files; metadata scanned in parallel over MPI ranks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/enum_names.hpp"
#include "core/mpi.hpp"
#include "core/tensor.hpp"
#include "readers/calendar.hpp"
#include "readers/cf_file.hpp"
#include "readers/quantities.hpp"
#include "readers/sample.hpp"
#include "readers/units.hpp"

namespace climseg::io {

// One channel of a sample, as written on the command line:
//   [NAME=]VAR[@LEVEL][[FILE]]
//   TMQ             the variable TMQ
//   U@850           U at the level 850 hPa (matched in hPa or Pa files; "U@85000Pa", "U@#3" too);
//                   the channel is named U850, and a 2-D variable U850 is used when U has no levels
//   u500=u[U500]    the variable u from the file of the time step whose name contains "U500"
//                   (or matches it as a glob), named u500 in the sample
struct ChannelSpec {
  std::string name;   // in the sample
  std::string var;    // in the file
  std::string level;  // "" for none
  std::string file;   // "" for any file of the time step
  std::string text;   // as written

  // What the consumer needs, set by code (a model's channel, a detector's role), not by the syntax:
  // values converted to `units` ("" keeps the file's) with UDUNITS-2, across `bridge` if needed...
  std::string units;
  UnitBridge bridge = UnitBridge::none;
  // ...and, when no variable `var` is found, a variable with one of these CF standard names (on
  // `level` when set), else the first of these other specs found by name ("IWV", "ua@850").
  std::vector<std::string> standard_names;
  std::string standard_level;  // the level of that search ("850 hPa"); "" takes `level`
  std::vector<std::string> aliases;

  // Throws UsageError for a malformed spec.
  static ChannelSpec parse(const std::string& text);
  // The 2-D variable that also answers "VAR@LEVEL" when VAR has no such level: VAR followed by the
  // level's digits ("U@850" -> "U850", as ClimateNet, DeepCAM and CAM h2 files store them); "" when
  // the spec has no level or selects one by index ("@#0").
  std::string flat_level_var() const;
};
// Comma-separated specs ("TMQ,U@850,V@850,PSL"); empty items are refused.
std::vector<ChannelSpec> parse_channels(const std::string& list);

// "VAR=UNITS" items (--units) as ArchiveOptions::units_override; throws UsageError for a malformed
// item or units UDUNITS-2 does not understand.
std::map<std::string, std::string> parse_units_overrides(const std::vector<std::string>& items);

// What to do with a sample whose channel is entirely fill values.
enum class FillPolicy { mask, skip, error };
FillPolicy parse_fill_policy(const std::string& name);  // "mask", "skip", "error"

struct ArchiveOptions {
  std::vector<ChannelSpec> channels;  // empty: every field of the first time step
  // Labels [H, W]: "" none, "auto" (LABELS or DeepCAM climate/labels_0 when present), or a variable
  // (with the [FILE] selector of ChannelSpec allowed).
  std::string labels;
  FillPolicy all_fill = FillPolicy::mask;
  // Metadata is scanned by the ranks of this communicator (each opens about N/P files); the
  // default is Comm::world(), which is a serial stand-in of size 1 without a launcher.
  Comm comm = Comm::world();
  int open_files = 8;  // how many files a loader keeps open
  // Units of variables that override (or supply) their files' units attribute, by variable name.
  std::map<std::string, std::string> units_override;
  // The option that names a channel's variable ("--channels"): when set, every channel that is
  // missing (by name, and by the spec's fallbacks) is reported in one message ending with
  // "name the variable of each with --channels U850=VAR,...".
  std::string missing_option;
  // Read netCDF-4 float channels as raw chunks inflated on all threads (direct_read.hpp) rather
  // than through the library one call at a time. Same values either way.
  bool direct_read = true;
  // Threads that inflate channels in one load (0: OpenMP's default, i.e. --threads). A prefetching
  // trainer may want 1 so that loading does not compete with the compute threads.
  int read_threads = 0;
};

// Where sample i comes from.
struct SampleInfo {
  int64_t group = 0;       // time-step group (files that share a time axis)
  int64_t time_index = 0;  // index along the files' record axis
  std::string file;        // first file of the group
  bool has_date = false;
  DateTime date;          // when has_date
  double time_value = 0;  // raw value in the file's units
};

// Where a channel of an archive comes from (its first time-step group).
struct ChannelSource {
  std::string name;                  // in the sample
  std::string spec;                  // the spec that found it: as given, or the standard-name / alias match
  std::string how;                   // "by name", "by standard_name X", "by known name"
  std::string var, file;             // the variable and its file
  std::string file_units;            // as in the file (or --units)
  std::string units;                 // as delivered: ChannelSpec::units when set, else file_units
  std::string standard_name, level;  // of the variable ("850 hPa" when a level was selected)
  UnitConversion conversion;
};

// A field on all the levels of its file, for column computations (IVT, hybrid pressure).
struct Field3D {
  std::string var, units, file;
  LevelAxis levels;              // name, values and units as in the file
  std::vector<double> level_pa;  // the levels in Pa when the axis is a pressure, else empty
  Tensor data;                   // (L, H, W) canonical; 0 where invalid
  Tensor valid;                  // (L, H, W) 1/0; numel 0 when all valid
  // CAM hybrid sigma-pressure coordinates, when the file has them: p = hyam·P0 + hybm·PS (Pa).
  std::vector<double> hyam, hybm;
  double p0 = 0.0;  // Pa
  Tensor ps;        // (H, W) surface pressure in Pa; numel 0 when absent
  bool hybrid() const { return !hyam.empty() && !hybm.empty() && ps.numel() > 0; }
};

class Archive {
 public:
  // inputs: files, directories (their *.nc, *.nc4, *.cdf, *.h5, *.hdf5, *.he5 files), globs
  // ("/data/cam5/*.h2.*.nc") or @list.txt (one path per line). Files are ordered by time.
  // Throws Error (one line naming the file) for: a missing input, a file that is not NetCDF/HDF5 or
  // is damaged, a non-lat-lon grid, grids that differ between files, time steps that overlap or go
  // backwards, an unknown variable (listing those available), a level that is not in the file.
  // Collective over options.comm: every rank must call it with the same arguments.
  static Archive open(const std::vector<std::string>& inputs, ArchiveOptions options = {});

  Archive(Archive&&) noexcept;
  Archive& operator=(Archive&&) noexcept;
  ~Archive();

  int64_t size() const;  // samples
  const geo::Grid& grid() const;
  const std::vector<std::string>& channel_names() const;
  // Units of each channel as delivered: the spec's units when it asks for some, else as in its file.
  const std::vector<std::string>& channel_units() const;
  // Where each channel comes from and how its values are converted.
  const std::vector<ChannelSource>& channel_sources() const;
  // Each channel described for a checkpoint: name, units as delivered, standard name, level (from
  // the file, else from the quantity table by name: U850 is at 850 hPa).
  std::vector<ChannelMeta> channel_meta() const;
  bool has_labels() const;
  const std::vector<FileMeta>& files() const;  // time order
  // "standard", "noleap", ... ; "" when the archive has no decodable time.
  std::string calendar() const;
  SampleInfo info(int64_t i) const;
  // The files of time-step group g (SampleInfo::group): the first one, then its siblings.
  std::vector<std::string> group_files(int64_t g) const;

  // Reads sample i: channels (C, H, W) canonical, valid mask, labels, time. Thread-safe (one
  // sample at a time per archive). A channel that is entirely fill values logs a warning and,
  // with FillPolicy::skip, sets Sample::skip; with FillPolicy::error it throws.
  Sample load(int64_t i) const;
  // The same into `into`, reusing its data/valid/labels storage when the shapes match (a loop
  // that recycles its samples allocates nothing). Views of the old tensors see the new values.
  void load_into(int64_t i, Sample& into) const;
  // Reads every level of `var` (VAR or VAR[FILE]) at sample i, with hybrid coefficients when present;
  // values converted to `units` when given (throws Error naming the variable when they cannot be).
  Field3D load_field(int64_t i, const std::string& var, const std::string& units = {}) const;

  // Files this process has opened to read samples (not for the metadata scan), in first-use order.
  std::vector<std::string> files_opened() const;
  // How many files this rank opened for the metadata scan.
  int64_t files_scanned() const;

 private:
  struct Impl;
  explicit Archive(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Expands inputs (files, directories, globs, @lists) into a sorted list of paths without duplicates.
// Throws Error for an input that matches nothing.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs);

}  // namespace climseg::io

template <>
struct climseg::config::EnumTable<climseg::io::FillPolicy> {
  static constexpr std::pair<const char*, io::FillPolicy> names[] = {
      {"mask", io::FillPolicy::mask}, {"skip", io::FillPolicy::skip}, {"error", io::FillPolicy::error}};
};
