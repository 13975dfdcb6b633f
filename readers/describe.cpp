// The semantic view of a file: grid, time, levels, channels.
#include "readers/describe.hpp"

#include <fmt/format.h>

#include <cmath>

#include "core/error.hpp"

namespace climseg::io {
using nlohmann::json;

namespace {

bool uniform(const std::vector<double>& v, double& step) {
  if (v.size() < 2) {
    step = 0;
    return true;
  }
  step = (v.back() - v.front()) / double(v.size() - 1);
  for (size_t k = 1; k < v.size(); ++k)
    if (std::abs((v[k] - v[k - 1]) - step) > 1e-3 * std::abs(step)) return false;
  return true;
}

std::string duration_text(double seconds) {
  auto plural = [](double n, const char* unit) {
    return fmt::format("{:g} {}{}", n, unit, std::abs(n - 1.0) < 1e-12 ? "" : "s");
  };
  const double a = std::abs(seconds);
  if (a >= 86400 && std::fmod(a, 86400) == 0) return plural(seconds / 86400, "day");
  if (a >= 3600 && std::fmod(a, 3600) == 0) return plural(seconds / 3600, "hour");
  if (a >= 60 && std::fmod(a, 60) == 0) return plural(seconds / 60, "minute");
  return plural(seconds, "second");
}

std::string example_level(const LevelAxis& a) {
  if (a.values.empty()) return "0";
  if (a.is_pressure()) {
    for (double v : a.values)
      if (std::abs(v * a.pa_per_unit() - 85000) < 1e-3) return "850";
    return fmt::format("{:g}", a.values.front() * a.pa_per_unit() / 100.0);
  }
  return fmt::format("{:g}", a.values.front());
}

}  // namespace

std::string describe_time_step(const FileMeta& m) {
  const auto& t = m.time_values;
  if (t.size() < 2) return "";
  std::vector<double> steps;
  if (m.time_decoded) {
    TimeUnits u = m.time_axis_units();
    if (u.unit == TimeUnit::months || u.unit == TimeUnit::years) {
      double step = 0;
      if (uniform(t, step))
        return fmt::format("{:g} {}{}", step, u.unit == TimeUnit::months ? "month" : "year",
                           std::abs(step - 1.0) < 1e-12 ? "" : "s");
      return fmt::format("irregular ({:g} to {:g} {})", t[1] - t[0], t.back() - t[t.size() - 2],
                         u.unit == TimeUnit::months ? "months" : "years");
    }
    for (size_t k = 1; k < t.size(); ++k)
      steps.push_back(std::round((t[k] - t[k - 1]) * u.seconds_per_unit() * 1e3) / 1e3);
    double lo = *std::min_element(steps.begin(), steps.end()), hi = *std::max_element(steps.begin(), steps.end());
    if (lo == hi) return duration_text(lo);
    return fmt::format("irregular ({} to {})", duration_text(lo), duration_text(hi));
  }
  double step = 0;
  if (uniform(t, step)) return fmt::format("{:g}{}{}", step, m.time_units.empty() ? "" : " ", m.time_units);
  return "irregular";
}

json describe_semantic(const FileMeta& m) {
  json out;
  out["deepcam"] = m.deepcam;
  if (!m.grid_error.empty()) {
    out["grid"] = {{"error", m.grid_error}};
  } else {
    const geo::Grid& g = m.grid;
    double dlat = 0, dlon = 0;
    const bool lat_uniform = uniform(g.lat, dlat);
    uniform(g.lon, dlon);
    if (!lat_uniform) dlat = g.dlat();
    const bool global = g.periodic && (g.lat.back() - g.lat.front() + std::abs(dlat)) >= 178.0;
    out["grid"] = {{"shape", {g.height(), g.width()}},
                   {"lat",
                    {{"name", m.lat_name},
                     {"first", g.lat.front()},
                     {"last", g.lat.back()},
                     {"step", dlat},
                     {"uniform", lat_uniform}}},
                   {"lon", {{"name", m.lon_name}, {"first", g.lon.front()}, {"last", g.lon.back()}, {"step", dlon}}},
                   {"periodic", g.periodic},
                   {"extent", global ? "global" : "regional"},
                   {"file_orientation",
                    {{"lat_descending", m.orientation.lat_descending},
                     {"lon_shift", m.orientation.lon_shift},
                     {"lon_signed", m.orientation.lon_signed},
                     {"lon_repeated", m.orientation.lon_repeated},
                     {"lat_range", {m.lat.front(), m.lat.back()}},
                     {"lon_range", {m.lon.front(), m.lon.back()}}}}};
  }
  if (m.time_values.empty() && m.time_name.empty()) {
    out["time"] = nullptr;
  } else {
    json t = {{"name", m.time_name},
              {"dimension", m.time_dim},
              {"count", m.steps},
              {"units", m.time_units},
              {"calendar", m.time_decoded ? (m.calendar.empty() ? std::string("standard") : m.calendar) : m.calendar},
              {"decoded", m.time_decoded},
              {"step", describe_time_step(m)},
              {"note", m.time_note}};
    if (!m.time_values.empty()) {
      if (m.time_decoded) {
        t["first"] = m.date(0).iso();
        t["last"] = m.date(static_cast<int64_t>(m.time_values.size()) - 1).iso();
      } else {
        t["first"] = m.time_values.front();
        t["last"] = m.time_values.back();
      }
    }
    out["time"] = t;
  }
  json levels = json::array();
  for (const LevelAxis& a : m.levels)
    levels.push_back({{"name", a.name},
                      {"units", a.units},
                      {"count", a.values.size()},
                      {"values", a.values},
                      {"pressure", a.is_pressure()},
                      {"standard_name", a.standard_name}});
  out["levels"] = levels;
  json chans = json::array(), others = json::array();
  json labels = nullptr;
  for (const VarMeta& v : m.vars) {
    if (!v.field) {
      others.push_back({{"name", v.name}, {"why", v.why_not}});
      continue;
    }
    if (v.name == "LABELS" || v.name == "climate/labels_0") labels = v.name;
    json c = {{"var", v.name}, {"units", v.units}, {"long_name", v.long_name}};
    const LevelAxis* a = v.level_dim >= 0 ? m.find_level(v.level_axis) : nullptr;
    if (a != nullptr && v.levels() > 1) {
      c["spec"] = v.name + "@LEVEL";
      c["levels"] = a->name;
      c["example"] = v.name + "@" + example_level(*a);
    } else {
      c["spec"] = v.name;
      c["levels"] = nullptr;
      c["example"] = v.name;
    }
    chans.push_back(std::move(c));
  }
  out["channels"] = chans;
  out["not_channels"] = others;
  out["labels"] = labels;
  return out;
}

std::string format_semantic(const json& s) {
  std::string out = "semantic:\n";
  const json& g = s["grid"];
  if (g.contains("error")) {
    out += fmt::format("  grid: not usable: {}\n", g["error"].get<std::string>());
  } else {
    out += fmt::format("  grid: {}x{} {}{}; lat {:g}..{:g} ({}{:g}°), lon {:g}..{:g} (step {:g}°)\n",
                       g["shape"][0].get<int64_t>(), g["shape"][1].get<int64_t>(), g["extent"].get<std::string>(),
                       g["periodic"].get<bool>() ? ", periodic in longitude" : "", g["lat"]["first"].get<double>(),
                       g["lat"]["last"].get<double>(), g["lat"]["uniform"].get<bool>() ? "step " : "mean step ",
                       g["lat"]["step"].get<double>(), g["lon"]["first"].get<double>(), g["lon"]["last"].get<double>(),
                       g["lon"]["step"].get<double>());
    const json& o = g["file_orientation"];
    std::vector<std::string> notes;
    if (o["lat_descending"].get<bool>()) notes.push_back("latitude descending (flipped)");
    if (o["lon_signed"].get<bool>())
      notes.push_back(
          fmt::format("longitude {:g}..{:g}", o["lon_range"][0].get<double>(), o["lon_range"][1].get<double>()));
    if (o["lon_shift"].get<int64_t>() != 0)
      notes.push_back(fmt::format("rotated by {} columns", o["lon_shift"].get<int64_t>()));
    if (o["lon_repeated"].get<bool>()) notes.push_back("first meridian repeated at the end (read once)");
    out += fmt::format("  file order: {}\n",
                       notes.empty() ? std::string("canonical") : fmt::format("{}", fmt::join(notes, ", ")));
  }
  const json& t = s["time"];
  if (t.is_null()) {
    out += "  time: none (one sample)\n";
  } else {
    auto value = [](const json& v) {
      return v.is_string() ? v.get<std::string>() : fmt::format("{:g}", v.get<double>());
    };
    out +=
        fmt::format("  time: {} ({} step{})",
                    t["name"].get<std::string>().empty() ? std::string("(no variable)") : t["name"].get<std::string>(),
                    t["count"].get<int64_t>(), t["count"].get<int64_t>() == 1 ? "" : "s");
    if (t.contains("first")) {
      out += fmt::format(" {}", value(t["first"]));
      if (t["count"].get<int64_t>() > 1) out += fmt::format(" .. {}", value(t["last"]));
    }
    const std::string step = t["step"];
    if (!step.empty()) out += step.rfind("irregular", 0) == 0 ? ", " + step : ", every " + step;
    if (t["decoded"].get<bool>())
      out += fmt::format("; {} calendar, '{}'", t["calendar"].get<std::string>(), t["units"].get<std::string>());
    out += "\n";
    if (!t["note"].get<std::string>().empty()) out += fmt::format("        note: {}\n", t["note"].get<std::string>());
  }
  for (const json& l : s["levels"]) {
    std::vector<std::string> vals;
    for (const json& v : l["values"]) vals.push_back(fmt::format("{:g}", v.get<double>()));
    out += fmt::format("  levels: {} ({}): {} {}\n", l["name"].get<std::string>(), l["count"].get<size_t>(),
                       fmt::join(vals, ", "), l["units"].get<std::string>());
  }
  std::vector<std::string> chans;
  for (const json& c : s["channels"]) {
    std::string units = c["units"];
    chans.push_back(c["spec"].get<std::string>() + (units.empty() ? "" : " [" + units + "]"));
  }
  out +=
      fmt::format("  channels: {}\n", chans.empty() ? std::string("none") : fmt::format("{}", fmt::join(chans, ", ")));
  for (const json& c : s["channels"])
    if (!c["levels"].is_null())
      out += fmt::format("    {}: one level of {}, e.g. {}\n", c["spec"].get<std::string>(),
                         c["levels"].get<std::string>(), c["example"].get<std::string>());
  if (!s["labels"].is_null()) out += fmt::format("  labels: {}\n", s["labels"].get<std::string>());
  for (const json& o : s["not_channels"])
    out += fmt::format("  not a channel: {} ({})\n", o["name"].get<std::string>(), o["why"].get<std::string>());
  return out;
}

}  // namespace climseg::io
