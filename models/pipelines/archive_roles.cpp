// Roles resolved against an archive's files; sample times.
#include "models/pipelines/archive_roles.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"
#include "core/log.hpp"
#include "readers/calendar.hpp"
#include "readers/column_file.hpp"
#include "readers/quantities.hpp"

namespace climseg::pipelines {

const std::vector<std::string>& role_defaults(Role r) {
  static const std::map<Role, std::vector<std::string>> d = [] {
    std::map<Role, std::vector<std::string>> m;
    for (const io::Quantity& q : io::quantities())
      if (auto role = parse_role(q.role)) m[*role] = q.names;
    return m;
  }();
  static const std::vector<std::string> none;
  auto it = d.find(r);
  return it == d.end() ? none : it->second;
}

bool spec_available(const std::vector<io::FileMeta>& files, const std::string& text, bool need_levels) {
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
      // "U@850" also matches a 2-D variable named U850 (the archive reads it so: readers/archive.cpp).
      if (const std::string flat = spec.flat_level_var(); !flat.empty() && !need_levels) {
        const io::VarMeta* fv = f.find_var(flat);
        if (fv != nullptr && fv->field && fv->level_dim < 0) return true;
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

RoleMap resolve_roles(const std::vector<io::FileMeta>& files, const std::vector<Role>& wanted, const RoleMap& given) {
  RoleMap out;
  for (const Role role : wanted) {
    const bool three_d = is_3d(role);
    const char* name = role_name(role);
    if (auto it = given.find(role); it != given.end()) {
      if (it->second.empty()) continue;
      if (!spec_available(files, it->second, three_d))
        fail_usage("--var {}={}: no such {}field in the archive", name, it->second, three_d ? "3-D " : "");
      out[role] = it->second;
      continue;
    }
    for (const auto& cand : role_defaults(role))
      if (spec_available(files, cand, three_d)) {
        out[role] = cand;
        break;
      }
    const io::Quantity* q = io::quantity_of_role(name);
    if (out.count(role) || q == nullptr || q->standard_names.empty()) continue;
    const std::vector<std::string> found = io::find_by_standard_name(files, q->standard_names, q->level, three_d);
    if (found.size() > 1)
      fail_usage("role {}: several variables have standard_name {}{} ({}): choose one with --var {}={}", name,
                 fmt::join(q->standard_names, " or "), q->level.empty() ? "" : " at " + q->level,
                 fmt::join(found, ", "), name, found.front());
    if (found.size() == 1) out[role] = found.front();
  }
  return out;
}

io::ChannelSpec role_spec(Role r, const std::string& text) {
  io::ChannelSpec s = io::ChannelSpec::parse(text);
  if (const io::Quantity* q = io::quantity_of_role(role_name(r))) {
    s.units = q->units;
    s.bridge = q->bridge;
  }
  return s;
}

std::string channel_name_of(const std::string& spec) { return io::ChannelSpec::parse(spec).name; }

std::vector<double> sample_days(const io::Archive& a, double fallback_hours) {
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

std::string sample_iso(const io::Archive& a, int64_t i) {
  const io::SampleInfo info = a.info(i);
  return info.has_date ? info.date.iso() : fmt::format("step{}", i);
}

std::string class_map_variable(const std::vector<std::string>& inputs, const std::string& option) {
  const std::string first = io::expand_inputs(inputs).front();
  if (io::ColumnArchive::is_columns(inputs)) {  // unstructured columns: the fields over the columns
    const std::vector<std::string> names = io::ColumnArchive::open({first}).channel_names();
    for (const char* name : {"LABELS", "class_mask"})
      if (std::find(names.begin(), names.end(), name) != names.end()) return name;
    fail("{}: no class map (LABELS from climseg label, class_mask from climseg predict); name it with {} VARIABLE",
         first, option);
  }
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

}  // namespace climseg::pipelines
