// The physical quantities climseg asks archives for, in one table: each with its CF standard
// names, the units its consumers take, its vertical level, the variable names archives use for it
// (CAM5/ClimateNet first, then CMIP, ERA5, MERRA-2, NCEP), and the bridge its units may cross.
// label's roles (--var ROLE=...) and a model's input channels are found and converted through it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "readers/cf_file.hpp"
#include "readers/units.hpp"

namespace climseg::io {

struct Quantity {
  std::string role;                         // label's role: "tmq", "u850", "q3d", ...
  std::vector<std::string> standard_names;  // CF, the first the quantity's own
  std::string units;                        // what detectors and ClimateNet take; "" as in the file
  std::string level;                        // "850 hPa", or "" for none
  std::vector<std::string> names;           // channel specs tried by name, in order
  UnitBridge bridge = UnitBridge::none;
  bool three_d = false;  // every level (IVT from Q, U, V)
};

// The table (docs/formats.md lists it).
const std::vector<Quantity>& quantities();
// The quantity of a role; nullptr when there is none.
const Quantity* quantity_of_role(const std::string& role);
// The quantity a channel named `name` (one of a quantity's names, e.g. TMQ, U850) or described by
// `standard_name` at `level` is; nullptr when none (2-D quantities only).
const Quantity* quantity_of(const std::string& name, const std::string& standard_name = {},
                            const std::string& level = {});

// What a model's input channel is: its name, the units it was trained on, its CF standard name
// and its vertical level ("850 hPa"). A checkpoint written before climseg recorded these carries
// the name alone (units "" = unknown: values are then fed as the file holds them).
struct ChannelMeta {
  std::string name;
  std::string units;
  std::string standard_name;
  std::string level;
  bool described() const { return !units.empty() || !standard_name.empty(); }
  // "TMQ (kg m-2, atmosphere_mass_content_of_water_vapor)", "U850 (m s-1, eastward_wind at 850 hPa)"
  std::string describe() const;
};
void to_json(nlohmann::json& j, const ChannelMeta& m);
void from_json(const nlohmann::json& j, ChannelMeta& m);

// Channel specs in "VAR@LEVEL" syntax for a level ("850 hPa" -> "850hPa"); "" for none.
std::string level_spec(const std::string& level);

// Variables of `files` that carry one of `standard_names` and, when `level` is set, have that
// level on their vertical axis (a variable without levels never matches a level; one with
// several matches only a level or, with `three_d`, as a whole). As channel specs ("msl",
// "u@850hPa", "q" for three_d), without duplicates.
std::vector<std::string> find_by_standard_name(const std::vector<FileMeta>& files,
                                               const std::vector<std::string>& standard_names, const std::string& level,
                                               bool three_d = false);

}  // namespace climseg::io
