// Wiring shared by `climseg label`, `events` and `bench label`: which archive variable plays each
// role the detectors need (U850, PSL, TMQ, ...), the units each role takes, and time in days.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/log.hpp"
#include "geo/sphere.hpp"
#include "readers/archive.hpp"
#include "readers/calendar.hpp"
#include "readers/cf_file.hpp"
#include "readers/quantities.hpp"

namespace climseg::app {

// Default variable names for each role, tried in order (CAM5 h2 / ClimateNet names first, then
// CMIP, ERA5, MERRA-2 and NCEP names): the quantity table of readers/quantities.hpp. "VAR@LEVEL"
// selects a pressure level of a 3-D variable.
inline const std::map<std::string, std::vector<std::string>>& role_defaults() {
  static const std::map<std::string, std::vector<std::string>> d = [] {
    std::map<std::string, std::vector<std::string>> m;
    for (const io::Quantity& q : io::quantities()) m[q.role] = q.names;
    return m;
  }();
  return d;
}

// Whether `spec` (VAR, VAR@LEVEL) can be read from the archive's files.
inline bool spec_available(const std::vector<io::FileMeta>& files, const std::string& text, bool need_levels = false) {
  io::ChannelSpec spec;
  try {
    spec = io::ChannelSpec::parse(text);
  } catch (const Error&) {
    return false;
  }
  for (const auto& f : files) {
    if (!spec.file.empty() && f.path.find(spec.file) == std::string::npos) continue;
    const io::VarMeta* v = f.find_var(spec.var);
    if (v == nullptr || !v->field) {
      // "U@850" also matches a 2-D variable named U850.
      if (!spec.level.empty() && !need_levels) {
        const io::VarMeta* flat = f.find_var(spec.var + spec.level);
        if (flat != nullptr && flat->field && flat->level_dim < 0) return true;
      }
      continue;
    }
    if (need_levels) return v->level_dim >= 0;
    if (spec.level.empty()) return v->level_dim < 0;
    if (v->level_dim < 0) continue;
    const io::LevelAxis* axis = f.find_level(v->level_axis);
    if (axis == nullptr) continue;
    try {
      io::find_level_index(*axis, spec.level);
      return true;
    } catch (const Error&) {
      continue;
    }
  }
  return false;
}

// Parses "ROLE=SPEC" overrides (an empty SPEC drops the role); throws UsageError for a malformed
// item or an unknown role.
inline std::map<std::string, std::string> parse_role_overrides(const std::vector<std::string>& overrides) {
  std::map<std::string, std::string> explicit_spec;
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos) fail_usage("--var {}: expected ROLE=VARIABLE (e.g. psl=msl)", o);
    const std::string role = o.substr(0, eq);
    if (!role_defaults().count(role)) {
      std::string roles;
      for (const auto& [r, _] : role_defaults()) roles += (roles.empty() ? "" : ", ") + r;
      fail_usage("--var {}: unknown role '{}' (roles: {})", o, role, roles);
    }
    explicit_spec[role] = o.substr(eq + 1);
  }
  return explicit_spec;
}

// Resolves roles to channel specs: explicit overrides first, then the defaults that exist in the
// archive, then a variable with the role's CF standard name (at its level). Roles not found are
// left out; a standard name that several variables carry is refused, naming them.
inline std::map<std::string, std::string> resolve_roles(const std::vector<io::FileMeta>& files,
                                                        const std::vector<std::string>& wanted,
                                                        const std::vector<std::string>& overrides) {
  const std::map<std::string, std::string> explicit_spec = parse_role_overrides(overrides);
  std::map<std::string, std::string> out;
  for (const auto& role : wanted) {
    const bool three_d = role == "q3d" || role == "u3d" || role == "v3d";
    if (auto it = explicit_spec.find(role); it != explicit_spec.end()) {
      if (it->second.empty()) continue;
      if (!spec_available(files, it->second, three_d))
        fail_usage("--var {}={}: no such {}field in the archive", role, it->second, three_d ? "3-D " : "");
      out[role] = it->second;
      continue;
    }
    for (const auto& cand : role_defaults().at(role))
      if (spec_available(files, cand, three_d)) {
        out[role] = cand;
        break;
      }
    const io::Quantity* q = io::quantity_of_role(role);
    if (out.count(role) || q == nullptr || q->standard_names.empty()) continue;
    const std::vector<std::string> found = io::find_by_standard_name(files, q->standard_names, q->level, three_d);
    if (found.size() > 1)
      fail_usage("role {}: several variables have standard_name {}{} ({}): choose one with --var {}={}", role,
                 fmt::join(q->standard_names, " or "), q->level.empty() ? "" : " at " + q->level,
                 fmt::join(found, ", "), role, found.front());
    if (found.size() == 1) out[role] = found.front();
  }
  return out;
}

// The channel spec that reads a role: `text` (as resolved) asking for the role's units, across
// the role's bridge (hPa -> Pa, degC -> K, geopotential m2 s-2 -> height m, mm -> kg m-2).
inline io::ChannelSpec role_spec(const std::string& role, const std::string& text) {
  io::ChannelSpec s = io::ChannelSpec::parse(text);
  if (const io::Quantity* q = io::quantity_of_role(role)) {
    s.units = q->units;
    s.bridge = q->bridge;
  }
  return s;
}

// The name a spec gets as a sample channel ("U@850" -> "U850", "u500=u[U500]" -> "u500").
inline std::string channel_name_of(const std::string& spec) { return io::ChannelSpec::parse(spec).name; }

// Times of the archive's samples in days from the first sample, calendar-aware. Without a
// decodable time axis, samples are taken `fallback_hours` apart (with a warning).
inline std::vector<double> sample_days(const io::Archive& a, double fallback_hours = 6.0) {
  std::vector<double> days(static_cast<size_t>(a.size()), 0.0);
  if (a.size() == 0) return days;
  bool dated = true;
  for (int64_t i = 0; i < a.size() && dated; ++i) dated = a.info(i).has_date;
  if (dated) {
    const io::Calendar cal = io::parse_calendar(a.calendar().empty() ? "standard" : a.calendar());
    const io::DateTime t0 = a.info(0).date;
    for (int64_t i = 0; i < a.size(); ++i) days[size_t(i)] = io::seconds_between(cal, t0, a.info(i).date) / 86400.0;
    return days;
  }
  log::warn("the archive's time axis cannot be decoded: taking its {} samples {} hours apart", a.size(),
            fallback_hours);
  for (int64_t i = 0; i < a.size(); ++i) days[size_t(i)] = double(i) * fallback_hours / 24.0;
  return days;
}

inline std::string sample_iso(const io::Archive& a, int64_t i) {
  const io::SampleInfo info = a.info(i);
  return info.has_date ? info.date.iso() : fmt::format("step{}", i);
}

// The class-map variable of an archive for --labels-var auto: LABELS (climseg label), else
// class_mask (climseg predict), looked up in its first file. Neither: an Error naming the option and,
// when the file has one, an integer field to give it.
inline std::string class_map_variable(const std::vector<std::string>& inputs, const std::string& option) {
  const std::string first = io::expand_inputs(inputs).front();
  const io::FileMeta meta = io::scan_file(first);
  if (!meta.grid_error.empty()) return "LABELS";  // opening the archive refuses the grid, naming it
  for (const char* name : {"LABELS", "climate/labels_0", "class_mask"})
    if (const io::VarMeta* v = meta.find_var(name); v != nullptr && v->field) return name;
  std::string example;
  for (const io::VarMeta& v : meta.vars)
    if (v.field && example.empty() && v.type != "float" && v.type != "double") example = v.name;
  fail("{}: no class map (LABELS from climseg label, class_mask from climseg predict); name it with {}{}", first,
       option, example.empty() ? std::string(" VARIABLE") : " " + example);
}

}  // namespace climseg::app
