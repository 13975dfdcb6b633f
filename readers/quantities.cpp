// The quantity table and finding variables by standard name and level.
#include "readers/quantities.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace climseg::io {

const std::vector<Quantity>& quantities() {
  using B = UnitBridge;
  static const std::vector<Quantity> table = {
      {"u850", {"eastward_wind"}, "m s-1", "850 hPa", {"U850", "U@850", "ua@850", "u@850"}},
      {"v850", {"northward_wind"}, "m s-1", "850 hPa", {"V850", "V@850", "va@850", "v@850"}},
      {"psl", {"air_pressure_at_mean_sea_level"}, "Pa", "", {"PSL", "psl", "msl", "slp", "SLP"}},
      // Near-surface winds: CF's eastward_wind says nothing of the height, so by name only.
      {"ubot", {}, "m s-1", "", {"UBOT", "uas", "u10", "U10"}},
      {"vbot", {}, "m s-1", "", {"VBOT", "vas", "v10", "V10"}},
      {"t200", {"air_temperature"}, "K", "200 hPa", {"T200", "T@200", "ta@200", "t@200"}},
      {"t500", {"air_temperature"}, "K", "500 hPa", {"T500", "T@500", "ta@500", "t@500"}},
      {"z200",
       {"geopotential_height", "geopotential"},
       "m",
       "200 hPa",
       {"Z200", "Z@200", "zg@200", "z@200", "Z3@200"},
       B::geopotential},
      {"z1000",
       {"geopotential_height", "geopotential"},
       "m",
       "1000 hPa",
       {"Z1000", "Z@1000", "zg@1000", "z@1000", "Z3@1000"},
       B::geopotential},
      {"tmq",
       {"atmosphere_mass_content_of_water_vapor", "lwe_thickness_of_atmosphere_mass_content_of_water_vapor"},
       "kg m-2",
       "",
       {"TMQ", "IWV", "tcwv", "prw", "PREH2O", "TQV"},
       B::water},
      // Cyclone masks use precipitation relative to its own distribution: any rate will do.
      {"prect", {"lwe_precipitation_rate", "precipitation_flux"}, "", "", {"PRECT", "pr", "tp"}},
      {"ivt", {}, "kg m-1 s-1", "", {"IVT", "ivt"}},
      {"hs", {"sea_surface_wave_significant_height"}, "m", "", {"hs", "HS", "swh", "VHM0"}},
      {"q3d", {"specific_humidity"}, "kg kg-1", "", {"Q", "hus", "q"}, B::none, true},
      {"u3d", {"eastward_wind"}, "m s-1", "", {"U", "ua", "u"}, B::none, true},
      {"v3d", {"northward_wind"}, "m s-1", "", {"V", "va", "v"}, B::none, true},
  };
  return table;
}

const Quantity* quantity_of_role(const std::string& role) {
  for (const Quantity& q : quantities())
    if (q.role == role) return &q;
  return nullptr;
}

namespace {

// "850 hPa", "85000 Pa", "850" (hPa) -> "850 hPa"; other levels as they are.
std::string normalize_level(const std::string& level) {
  if (level.empty()) return level;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(level, &used);
  } catch (const std::exception&) {
    return level;
  }
  std::string unit = level.substr(used);
  unit.erase(std::remove_if(unit.begin(), unit.end(), [](unsigned char c) { return std::isspace(c); }), unit.end());
  const double pa = unit.empty() ? 100.0 : pascals_per_unit(unit);
  return pa > 0 ? fmt::format("{:g} hPa", v * pa / 100.0) : level;
}

}  // namespace

const Quantity* quantity_of(const std::string& name, const std::string& standard_name, const std::string& level) {
  for (const Quantity& q : quantities())
    if (!q.three_d && std::find(q.names.begin(), q.names.end(), name) != q.names.end()) return &q;
  if (standard_name.empty()) return nullptr;
  const std::string lv = normalize_level(level);
  for (const Quantity& q : quantities())
    if (!q.three_d && !q.standard_names.empty() && q.standard_names.front() == standard_name && q.level == lv)
      return &q;
  return nullptr;
}

std::string ChannelMeta::describe() const {
  std::vector<std::string> parts;
  if (!units.empty()) parts.push_back(units);
  if (!standard_name.empty()) parts.push_back(standard_name + (level.empty() ? "" : " at " + level));
  return parts.empty() ? name : fmt::format("{} ({})", name, fmt::join(parts, ", "));
}

void to_json(nlohmann::json& j, const ChannelMeta& m) {
  j = {{"name", m.name}, {"units", m.units}, {"standard_name", m.standard_name}, {"level", m.level}};
}

void from_json(const nlohmann::json& j, ChannelMeta& m) {
  m.name = j.at("name").get<std::string>();
  m.units = j.value("units", std::string());
  m.standard_name = j.value("standard_name", std::string());
  m.level = j.value("level", std::string());
}

std::string level_spec(const std::string& level) {
  std::string s = normalize_level(level);
  s.erase(std::remove_if(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); }), s.end());
  return s;
}

std::vector<std::string> find_by_standard_name(const std::vector<FileMeta>& files,
                                               const std::vector<std::string>& standard_names, const std::string& level,
                                               bool three_d) {
  std::vector<std::string> out;
  const std::string lv = level_spec(level);
  for (const FileMeta& f : files)
    for (const VarMeta& v : f.vars) {
      if (!v.field && v.level_dim < 0) continue;
      if (v.standard_name.empty() ||
          std::find(standard_names.begin(), standard_names.end(), v.standard_name) == standard_names.end())
        continue;
      std::string spec;
      if (three_d) {
        if (v.level_dim < 0 || v.levels() < 2) continue;
        spec = v.name;
      } else if (lv.empty()) {
        if (!v.field || v.levels() > 1) continue;
        spec = v.name;
      } else {
        const LevelAxis* axis = v.level_dim >= 0 ? f.find_level(v.level_axis) : nullptr;
        if (!v.field || axis == nullptr || find_level_index(*axis, lv) < 0) continue;
        spec = v.name + "@" + lv;
      }
      if (std::find(out.begin(), out.end(), spec) == out.end()) out.push_back(spec);
    }
  return out;
}

}  // namespace climseg::io
