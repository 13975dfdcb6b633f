// Which archive variable plays each role the detectors read (U850, PSL, TMQ, ...), the units each
// role takes, and the archive's time in days: shared by label and events (and bench label).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/pipelines/roles.hpp"
#include "readers/archive.hpp"
#include "readers/cf_file.hpp"

namespace climseg::pipelines {

// Role -> channel spec ("U@850", "u850=u[Ustorm]"); an empty spec (given) drops the role.
using RoleMap = std::map<Role, std::string>;

// Default variable names of a role, tried in order (CAM5 h2 / ClimateNet names first, then CMIP,
// ERA5, MERRA-2 and NCEP names): the quantity table of readers/quantities.hpp.
const std::vector<std::string>& role_defaults(Role r);

// Whether `text` (VAR, VAR@LEVEL) can be read from the archive's files; a 3-D role needs levels.
bool spec_available(const std::vector<io::FileMeta>& files, const std::string& text, bool need_levels = false);

// Resolves roles to channel specs: `given` first, then the defaults that exist in the archive, then
// a variable with the role's CF standard name (at its level). Roles not found are left out; a
// standard name that several variables carry is refused, naming them (UsageError).
RoleMap resolve_roles(const std::vector<io::FileMeta>& files, const std::vector<Role>& wanted, const RoleMap& given);

// The channel spec that reads a role: `text` asking for the role's units, across the role's bridge
// (hPa -> Pa, degC -> K, geopotential m2 s-2 -> height m, mm -> kg m-2).
io::ChannelSpec role_spec(Role r, const std::string& text);

// The name a spec gets as a sample channel ("U@850" -> "U850", "u500=u[U500]" -> "u500").
std::string channel_name_of(const std::string& spec);

// Times of the archive's samples in days from the first sample, calendar-aware. Without a
// decodable time axis, samples are taken `fallback_hours` apart (with a warning).
std::vector<double> sample_days(const io::Archive& a, double fallback_hours = 6.0);
// The sample's date as ISO 8601, or "stepN" without one.
std::string sample_iso(const io::Archive& a, int64_t i);

// The class-map variable of an archive for --labels-var auto: LABELS (climseg label), else
// class_mask (climseg predict), looked up in its first file. Neither: an Error naming `option` and,
// when the file has one, an integer field to give it.
std::string class_map_variable(const std::vector<std::string>& inputs, const std::string& option);

}  // namespace climseg::pipelines
