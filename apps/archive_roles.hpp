// Wiring shared by `climseg label`, `events` and `bench label`: which archive variable plays each
// role the detectors need (U850, PSL, TMQ, ...), unit conversion to SI, and time in days.
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

namespace climseg::app {

// Default variable names for each role, tried in order (CAM5 h2 / ClimateNet names first, then
// CMIP and ERA5 names). "VAR@LEVEL" selects a pressure level of a 3-D variable.
inline const std::map<std::string, std::vector<std::string>>& role_defaults() {
  static const std::map<std::string, std::vector<std::string>> d = {
      {"u850", {"U850", "U@850", "ua@850", "u@850"}},
      {"v850", {"V850", "V@850", "va@850", "v@850"}},
      {"psl", {"PSL", "psl", "msl", "slp", "SLP"}},
      {"ubot", {"UBOT", "uas", "u10", "U10"}},
      {"vbot", {"VBOT", "vas", "v10", "V10"}},
      {"t200", {"T200", "T@200", "ta@200", "t@200"}},
      {"t500", {"T500", "T@500", "ta@500", "t@500"}},
      {"z200", {"Z200", "Z@200", "zg@200", "z@200", "Z3@200"}},
      {"z1000", {"Z1000", "Z@1000", "zg@1000", "z@1000", "Z3@1000"}},
      {"tmq", {"TMQ", "IWV", "tcwv", "prw", "PREH2O"}},
      {"prect", {"PRECT", "pr", "tp"}},
      {"ivt", {"IVT", "ivt"}},
      {"hs", {"hs", "HS", "swh", "VHM0"}},
      // 3-D fields for IVT when the archive has no IVT variable: specific humidity and winds on levels.
      {"q3d", {"Q", "hus", "q"}},
      {"u3d", {"U", "ua", "u"}},
      {"v3d", {"V", "va", "v"}},
  };
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
// archive. Roles not found are left out.
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
  }
  return out;
}

// The name a spec gets as a sample channel ("U@850" -> "U850", "u500=u[U500]" -> "u500").
inline std::string channel_name_of(const std::string& spec) { return io::ChannelSpec::parse(spec).name; }

// Converts a channel to the SI unit its role expects, in place: pressure hPa -> Pa, geopotential
// m2 s-2 -> geopotential height m, temperature degC -> K. Other units are left as they are.
inline void to_si(const std::string& role, const std::string& units, float* data, int64_t n) {
  std::string u = units;
  u.erase(std::remove(u.begin(), u.end(), ' '), u.end());
  std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  double scale = 1.0, offset = 0.0;
  if (role == "psl" && (u == "hpa" || u == "mb" || u == "mbar" || u == "millibars" || u == "millibar")) scale = 100.0;
  if ((role == "z200" || role == "z1000") && (u == "m2s-2" || u == "m**2s**-2" || u == "m^2/s^2" || u == "m2/s2"))
    scale = 1.0 / geo::kGravity;
  if ((role == "t200" || role == "t500") && (u == "degc" || u == "c" || u == "celsius")) offset = 273.15;
  if (scale == 1.0 && offset == 0.0) return;
  for (int64_t k = 0; k < n; ++k) data[k] = float(data[k] * scale + offset);
}

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

}  // namespace climseg::app
