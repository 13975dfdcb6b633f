// LabelConfig <-> JSON, its flags, its checks.
#include "models/pipelines/label_config.hpp"

#include <sstream>

#include "core/error.hpp"
#include "readers/archive.hpp"

namespace climseg::pipelines {

using Json = nlohmann::json;
using config::Alias;

namespace {

constexpr std::pair<Detector, const char*> kDetectors[] = {
    {Detector::tc, "tc"}, {Detector::ar, "ar"}, {Detector::waves, "waves"}};

// "ROLE=SPEC" items (--var); an empty SPEC drops the role. UsageError naming the item.
std::map<Role, std::string> parse_vars(const std::vector<std::string>& items) {
  std::map<Role, std::string> out;
  for (const auto& o : items) {
    const auto eq = o.find('=');
    if (eq == std::string::npos) fail_usage("--var {}: expected ROLE=VARIABLE (e.g. psl=msl)", o);
    const auto role = parse_role(o.substr(0, eq));
    if (!role) fail_usage("--var {}: unknown role '{}' (roles: {})", o, o.substr(0, eq), role_list());
    out[*role] = o.substr(eq + 1);
  }
  return out;
}

// A key that maps names to values, given as an object {"psl": "msl"} or as "NAME=VALUE" items
// (the flags' form).
std::vector<std::string> name_value_items(config::Reader& r, const char* key) {
  Json v;
  r.get_json(key, v);
  std::vector<std::string> items;
  if (v.is_null()) return items;
  if (v.is_object()) {
    for (const auto& [k, s] : v.items()) {
      if (!s.is_string()) r.fail(key, fmt::format("must map names to strings, got {}", s.dump()));
      items.push_back(k + "=" + s.get<std::string>());
    }
    return items;
  }
  if (v.is_string()) return {v.get<std::string>()};
  if (v.is_array()) {
    for (const auto& s : v) {
      if (!s.is_string()) r.fail(key, fmt::format("must hold NAME=VALUE strings, got {}", s.dump()));
      items.push_back(s.get<std::string>());
    }
    return items;
  }
  r.fail(key, fmt::format("must be an object or a list of NAME=VALUE, got {}", v.dump()));
}

// A threshold key that takes a number or "pNN": numbers from a file are taken as their text.
void get_threshold(config::Reader& r, const char* key, std::string& out) {
  Json v;
  r.get_json(key, v);
  if (v.is_null()) return;
  if (v.is_string())
    out = v.get<std::string>();
  else if (v.is_number())
    out = v.dump();
  else
    r.fail(key, fmt::format("must be a number or pPERCENTILE, got {}", v.dump()));
}

}  // namespace

const char* detector_name(Detector d) {
  for (const auto& [k, n] : kDetectors)
    if (k == d) return n;
  return "?";
}

bool LabelConfig::has(Detector d) const { return std::find(detectors.begin(), detectors.end(), d) != detectors.end(); }

std::string LabelConfig::detector_text() const {
  std::string s;
  for (Detector d : detectors) s += (s.empty() ? "" : ",") + std::string(detector_name(d));
  return s;
}

Json LabelConfig::to_json() const {
  const auto& d = detect;
  Json vars_json = Json::object(), units_json = Json::object(), detect_json = Json::array();
  for (const auto& [r, s] : vars) vars_json[role_name(r)] = s;
  for (const auto& [v, u] : units) units_json[v] = u;
  for (Detector x : detectors) detect_json.push_back(detector_name(x));
  Json j;
  j["in"] = inputs;
  j["out"] = out;
  j["overwrite"] = rerun == io::Rerun::overwrite;
  j["no_overwrite"] = rerun == io::Rerun::refuse_different;
  j["detect"] = detect_json;
  j["vars"] = vars_json;
  j["units"] = units_json;
  j["with_data"] = with_data;
  j["stats"] = stats;
  j["step_hours"] = step_hours;
  j["overlap"] = config::to_string(overlap);
  j["tc"] = {{"min_vorticity", d.tc.min_vorticity},
             {"vorticity_window_deg", d.tc.vorticity_window_deg},
             {"max_core_radius_deg", d.tc.max_core_radius_deg},
             {"min_pressure_delta_pa", d.tc.min_pressure_delta_pa},
             {"pressure_delta_radius_deg", d.tc.pressure_delta_radius_deg},
             {"min_core_temp_delta_k", d.tc.min_core_temp_delta_k},
             {"core_temp_radius_deg", d.tc.core_temp_radius_deg},
             {"min_thickness_delta_m", d.tc.min_thickness_delta_m},
             {"thickness_radius_deg", d.tc.thickness_radius_deg},
             {"lat_min", d.tc.lat_min},
             {"lat_max", d.tc.lat_max},
             {"min_psl_pa", d.tc.min_psl_pa},
             {"contour_missing_directions", d.tc.contour_missing_directions}};
  j["tracks"] = {{"max_daily_distance_km", d.tracks.max_daily_distance_km},
                 {"min_wind_speed", d.tracks.min_wind_speed},
                 {"min_wind_duration_days", d.tracks.min_wind_duration_days},
                 {"min_censored_wind_duration_days", d.tracks.min_censored_wind_duration_days},
                 {"require_warm_core", d.tracks.require_warm_core},
                 {"require_thickness", d.tracks.require_thickness},
                 {"allow_equator_crossing", d.tracks.allow_equator_crossing},
                 {"max_gap_steps", d.tracks.max_gap_steps}};
  j["tc_mask"] = {{"percentile", d.tc_mask.percentile},
                  {"gale_wind", d.tc_mask.gale_wind},
                  {"radius_scale", d.tc_mask.radius_scale},
                  {"box_pad_deg", d.tc_mask.box_pad_deg},
                  {"min_half_box_deg", d.tc_mask.min_half_box_deg},
                  {"max_half_box_deg", d.tc_mask.max_half_box_deg}};
  j["ar"] = {{"method", config::to_string(d.ar_method)},
             {"ivt",
              {{"threshold", ivt_threshold},
               {"threshold_field", ivt_threshold_field},
               {"min_length_km", d.ivt.min_length_km},
               {"min_aspect", d.ivt.min_aspect},
               {"min_area_km2", d.ivt.min_area_km2},
               {"min_abs_centroid_lat", d.ivt.min_abs_centroid_lat},
               {"tropics_sigma_deg", d.ivt.tropics_sigma_deg}}},
             {"tmq",
              {{"threshold", d.tmq.threshold},
               {"sigma_deg", d.tmq.sigma_deg},
               {"min_length_km", d.tmq.min_length_km},
               {"max_area_per_length_km", d.tmq.max_area_per_length_km}}}};
  j["waves"] = {{"threshold", waves_threshold},
                {"threshold_field", waves_threshold_field},
                {"min_area_km2", d.wave.min_area_km2}};
  return j;
}

LabelConfig LabelConfig::from_json(const Json& given) {
  LabelConfig c;
  const Json defaults = c.to_json();
  Json j = given;
  // A label_summary.json: its "config", with the configuration keys beside it (the command line's
  // settings, laid over the summary) on top; the report's keys are not configuration.
  if (given.is_object() && given.contains("config") && given.at("config").is_object()) {
    j = given.at("config");
    for (const auto& [k, v] : given.items())
      if (k != "config" && defaults.contains(k)) j.merge_patch(Json{{k, v}});
  }
  config::Reader r(j, "label config");
  r.get_list("in", c.inputs);
  r.get("out", c.out);
  bool overwrite = false, no_overwrite = false;
  r.get("overwrite", overwrite);
  r.get("no_overwrite", no_overwrite);
  if (overwrite && no_overwrite) fail_usage("--no-overwrite excludes --overwrite");
  c.rerun = overwrite ? io::Rerun::overwrite : no_overwrite ? io::Rerun::refuse_different : io::Rerun::keep_matching;
  if (r.has("detect")) {
    std::vector<std::string> items;
    r.get_list("detect", items);
    c.detectors.clear();
    for (const auto& text : items) {
      std::stringstream ss(text);
      for (std::string item; std::getline(ss, item, ',');) {
        if (item.empty()) continue;
        bool known = false;
        for (const auto& [d, n] : kDetectors)
          if (item == n) {
            known = true;
            if (!c.has(d)) c.detectors.push_back(d);
          }
        if (!known) fail_usage("--detect: unknown detector '{}' (use tc, ar, waves)", item);
      }
    }
    if (c.detectors.empty()) fail_usage("--detect: nothing to detect");
  } else {
    r.mark("detect");
  }
  c.vars = parse_vars(name_value_items(r, "vars"));
  c.units = io::parse_units_overrides(name_value_items(r, "units"));
  r.get("with_data", c.with_data);
  r.get("stats", c.stats);
  r.get("step_hours", c.step_hours);
  r.get_enum("overlap", c.overlap);

  auto& d = c.detect;
  {
    config::Reader s = r.section("tc");
    s.get("min_vorticity", d.tc.min_vorticity);
    s.get("vorticity_window_deg", d.tc.vorticity_window_deg);
    s.get("max_core_radius_deg", d.tc.max_core_radius_deg);
    s.get("min_pressure_delta_pa", d.tc.min_pressure_delta_pa);
    s.get("pressure_delta_radius_deg", d.tc.pressure_delta_radius_deg);
    s.get("min_core_temp_delta_k", d.tc.min_core_temp_delta_k);
    s.get("core_temp_radius_deg", d.tc.core_temp_radius_deg);
    s.get("min_thickness_delta_m", d.tc.min_thickness_delta_m);
    s.get("thickness_radius_deg", d.tc.thickness_radius_deg);
    s.get("lat_min", d.tc.lat_min);
    s.get("lat_max", d.tc.lat_max);
    s.get("min_psl_pa", d.tc.min_psl_pa);
    s.get("contour_missing_directions", d.tc.contour_missing_directions);
    s.finish(defaults.at("tc"));
  }
  {
    config::Reader s = r.section("tracks");
    s.get("max_daily_distance_km", d.tracks.max_daily_distance_km);
    s.get("min_wind_speed", d.tracks.min_wind_speed);
    s.get("min_wind_duration_days", d.tracks.min_wind_duration_days);
    s.get("min_censored_wind_duration_days", d.tracks.min_censored_wind_duration_days);
    s.get("require_warm_core", d.tracks.require_warm_core);
    s.get("require_thickness", d.tracks.require_thickness);
    s.get("allow_equator_crossing", d.tracks.allow_equator_crossing);
    s.get("max_gap_steps", d.tracks.max_gap_steps);
    s.finish(defaults.at("tracks"));
  }
  {
    config::Reader s = r.section("tc_mask");
    s.get("percentile", d.tc_mask.percentile);
    s.get("gale_wind", d.tc_mask.gale_wind);
    s.get("radius_scale", d.tc_mask.radius_scale);
    s.get("box_pad_deg", d.tc_mask.box_pad_deg);
    s.get("min_half_box_deg", d.tc_mask.min_half_box_deg);
    s.get("max_half_box_deg", d.tc_mask.max_half_box_deg);
    s.finish(defaults.at("tc_mask"));
  }
  {
    config::Reader s = r.section("ar");
    s.get_enum("method", d.ar_method);
    config::Reader i = s.section("ivt");
    get_threshold(i, "threshold", c.ivt_threshold);
    i.get("threshold_field", c.ivt_threshold_field);
    i.get("min_length_km", d.ivt.min_length_km);
    i.get("min_aspect", d.ivt.min_aspect);
    i.get("min_area_km2", d.ivt.min_area_km2);
    i.get("min_abs_centroid_lat", d.ivt.min_abs_centroid_lat);
    i.get("tropics_sigma_deg", d.ivt.tropics_sigma_deg);
    i.finish(defaults.at("ar").at("ivt"));
    config::Reader t = s.section("tmq");
    t.get("threshold", d.tmq.threshold);
    t.get("sigma_deg", d.tmq.sigma_deg);
    t.get("min_length_km", d.tmq.min_length_km);
    t.get("max_area_per_length_km", d.tmq.max_area_per_length_km);
    t.finish(defaults.at("ar").at("tmq"));
    s.finish(defaults.at("ar"));
  }
  {
    config::Reader s = r.section("waves");
    get_threshold(s, "threshold", c.waves_threshold);
    s.get("threshold_field", c.waves_threshold_field);
    s.get("min_area_km2", d.wave.min_area_km2);
    s.finish(defaults.at("waves"));
  }
  r.finish(defaults);
  d.cyclones = c.has(Detector::tc);
  d.rivers = c.has(Detector::ar);
  d.waves = c.has(Detector::waves);
  return c;
}

void LabelConfig::validate() const {
  detect.tc.validate();
  detect.tracks.validate();
  detect.tc_mask.validate();
  if (!(step_hours > 0)) fail_usage("--step-hours must be positive");
}

const std::vector<Alias>& LabelConfig::cli_aliases() {
  using K = Alias::Kind;
  static const std::vector<Alias> a = {
      {"--in", "in", "Files, directories, globs or @list files of the archive", K::list},
      {"--out", "out", "Output directory (created if missing)"},
      {"--detect", "detect", "Detectors, comma-separated: tc, ar, waves"},
      {"--var", "vars",
       "ROLE=VARIABLE, repeatable: which variable plays a role (u850, v850, psl, ubot, vbot, t200, t500,\n"
       "z200, z1000, tmq, prect, ivt, hs, q3d, u3d, v3d); ROLE= drops it. Defaults: CAM5 names, then\n"
       "CMIP/ERA5 names (docs/detectors.md)",
       K::list},
      {"--units", "units",
       "VAR=UNITS, repeatable: the units of a variable whose units attribute is missing or wrong (each "
       "role's values are converted to the units its detector takes, docs/detectors.md)",
       K::list},
      {"--with-data", "with_data", "Also write these channels (e.g. TMQ,U850,V850,PSL) beside LABELS"},
      {"--overlap", "overlap",
       "Always read the next step and write the last one on background threads while a step is labelled (by "
       "default only when they have cores of their own: the ranks on the node times --threads leave some free)",
       K::set, "on"},
      {"--no-overlap", "overlap", "Read, label and write each step in turn (the outputs are the same bytes either way)",
       K::set, "off"},
      {"--overwrite", "overwrite",
       "Redo every label file that exists (by default one is kept when it was made from "
       "the same inputs with the same options and climseg version, and redone otherwise)",
       K::flag},
      {"--no-overwrite", "no_overwrite", "Stop, naming the difference, rather than redo a label file made otherwise",
       K::flag},
      {"--ar-method", "ar.method", "River detector: auto (IVT when present, else TMQ), ivt, tmq"},
      {"--stats", "stats", "Statistics file from climseg stats, for pNN thresholds"},
      {"--step-hours", "step_hours", "Time between samples when the archive has no decodable time"},
      // Cyclones (TECA defaults).
      {"--tc-min-vorticity", "tc.min_vorticity", "850 hPa vorticity threshold, s-1"},
      {"--tc-vorticity-window", "tc.vorticity_window_deg", "Vorticity local-maximum window, degrees"},
      {"--tc-core-radius", "tc.max_core_radius_deg", "SLP minimum / warm core search radius, degrees"},
      {"--tc-pressure-delta", "tc.min_pressure_delta_pa", "SLP rise required, Pa"},
      {"--tc-pressure-radius", "tc.pressure_delta_radius_deg", "... within, degrees"},
      {"--tc-warm-core-delta", "tc.min_core_temp_delta_k", "Warm-core temperature fall required, K"},
      {"--tc-warm-core-radius", "tc.core_temp_radius_deg", "... within, degrees"},
      {"--tc-thickness-delta", "tc.min_thickness_delta_m", "Thickness fall required, m"},
      {"--tc-thickness-radius", "tc.thickness_radius_deg", "... within, degrees"},
      {"--tc-contour-missing-directions", "tc.contour_missing_directions",
       "Closed-contour tests: directions (of 8) that may be left out where they run into missing data "
       "or off a regional grid (0: TECA)"},
      {"--tc-lat-min", "tc.lat_min", "Southern edge of the search band"},
      {"--tc-lat-max", "tc.lat_max", "Northern edge of the search band"},
      {"--max-daily-distance", "tracks.max_daily_distance_km", "Track stitching reach, km per day"},
      {"--max-gap", "tracks.max_gap_steps",
       "Steps a track may skip when the next step has no candidate in reach (0: TECA's rule; 1 bridges a "
       "step of missing data)"},
      {"--tc-no-warm-core", "tracks.require_warm_core",
       "Tracks: storm-wind points need no warm core (extratropical storms; TECA requires it)", K::flag_off},
      {"--tc-no-thickness", "tracks.require_thickness",
       "Tracks: storm-wind points need no thickness anomaly (extratropical storms; TECA requires it)", K::flag_off},
      {"--min-wind-speed", "tracks.min_wind_speed", "Storm wind speed, m s-1"},
      {"--min-wind-duration", "tracks.min_wind_duration_days", "Days of storm winds a track needs"},
      {"--min-wind-duration-at-edges", "tracks.min_censored_wind_duration_days",
       "... for a track cut by the first or last step of the archive (equal to the above: TECA's rule)"},
      {"--tc-mask-percentile", "tc_mask.percentile", "Local percentile of the cyclone mask"},
      {"--tc-mask-pad", "tc_mask.box_pad_deg", "Mask box: storm radius plus this, degrees"},
      // Rivers.
      {"--ivt-threshold", "ar.ivt.threshold", "IVT threshold, kg m-1 s-1, or pNN (percentile, with --stats)"},
      {"--ivt-threshold-field", "ar.ivt.threshold_field", "FILE:VAR, a per-cell IVT threshold on the archive's grid"},
      {"--ar-min-length", "ar.ivt.min_length_km", "Minimum river length, km"},
      {"--ar-min-aspect", "ar.ivt.min_aspect", "Minimum length / width"},
      {"--ar-min-area", "ar.ivt.min_area_km2", "Minimum river area, km2"},
      {"--ar-min-lat", "ar.ivt.min_abs_centroid_lat", "Rivers centred nearer the equator are dropped, degrees"},
      {"--ar-tropics-sigma", "ar.ivt.tropics_sigma_deg",
       "IVT method: damp IVT by 1 - exp(-lat^2 / 2 sigma^2) before the threshold, degrees (0: off)"},
      {"--tmq-threshold", "ar.tmq.threshold", "TMQ method: threshold on damped TMQ, kg m-2"},
      {"--tmq-sigma", "ar.tmq.sigma_deg", "TMQ method: Gaussian damping width, degrees"},
      {"--tmq-min-length", "ar.tmq.min_length_km", "TMQ method: minimum extent, km"},
      {"--tmq-max-width", "ar.tmq.max_area_per_length_km", "TMQ method: maximum area / length, km"},
      // Waves.
      {"--waves-threshold", "waves.threshold", "Hs threshold, m, or pNN (percentile, with --stats)"},
      {"--waves-threshold-field", "waves.threshold_field",
       "FILE:VAR, a per-cell Hs threshold on the archive's grid (a local percentile, e.g. from cdo timpctl)"},
      {"--waves-min-area", "waves.min_area_km2", "Minimum extreme-wave patch, km2"},
  };
  return a;
}

Json LabelConfig::key_json() const {
  std::map<std::string, std::string> flag_of;  // dotted key -> its flag
  for (const Alias& a : cli_aliases())
    if (a.kind != Alias::Kind::flag_off) flag_of.emplace(a.key, a.flags);  // "--tc-no-warm-core": true would mislead
  Json out = Json::object();
  auto walk = [&](auto& self, const Json& node, const std::string& prefix) -> void {
    for (const auto& [k, v] : node.items()) {
      const std::string key = prefix.empty() ? k : prefix + "." + k;
      if (key == "in" || key == "out" || key == "overwrite" || key == "no_overwrite" || key == "overlap") continue;
      if (v.is_object() && !(key == "vars" || key == "units")) {
        self(self, v, key);
        continue;
      }
      auto it = flag_of.find(key);
      out[it != flag_of.end() ? it->second : key] = v;
    }
  };
  walk(walk, to_json(), "");
  return out;
}

}  // namespace climseg::pipelines
