// The pipelines in the Python module: climseg.detect (pipelines::StepsLabeller, label's detectors on
// arrays in memory, in label_archive's two passes so that Dask chunks can be fed one at a time),
// climseg.events (pipelines::StepsEvents) and climseg.stats (pipelines::StepsStats). The package's
// climseg/_detect.py and _pipelines.py find the variables in the Dataset and order the passes.
#include <pybind11/stl.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/python/inputs.hpp"
#include "models/heuristics/labels.hpp"
#include "models/pipelines/events_pipeline.hpp"
#include "models/pipelines/label.hpp"
#include "models/pipelines/stats_pipeline.hpp"
#include "readers/orientation.hpp"
#include "readers/quantities.hpp"

namespace climseg::python {
namespace {

using pipelines::Role;

// One detect call: the configuration, the roles and their variables, the labeller.
class Detector {
 public:
  Detector(const std::string& config_json, const std::vector<std::string>& roles, const std::vector<std::string>& vars,
           std::vector<std::string> file_units, const DoubleArray& lat, const DoubleArray& lon,
           const std::string& where, const std::map<std::string, std::string>& present_3d)
      : vars_(vars), file_units_(std::move(file_units)), lat_(lat), lon_(lon) {
    if (roles.size() != vars.size() || roles.size() != file_units_.size())
      throw py::value_error("detect: roles, variables and units differ in number");
    checking_input([&] {
      cfg_ = pipelines::LabelConfig::from_json(nlohmann::json::parse(config_json));
      pipelines::RoleMap map;
      for (size_t k = 0; k < roles.size(); ++k) {
        const auto r = pipelines::parse_role(roles[k]);
        if (!r) fail_usage("detect: unknown role {}", roles[k]);
        roles_.push_back(*r);
        specs_.push_back(pipelines::role_spec(*r, vars[k]));
        names_.push_back(roles[k]);
        map[*r] = vars[k];
      }
      for (const auto& [name, spec] : present_3d)
        if (const auto r = pipelines::parse_role(name)) map[*r] = spec;
      const io::CanonicalGrid g = io::canonical_grid(to_vector(lat), to_vector(lon), "the dataset's coordinates");
      grid_ = g.grid;
      orientation_ = g.orientation;
      labeller_ = std::make_unique<pipelines::StepsLabeller>(grid_, cfg_, map, where);
      return 0;
    });
  }

  std::string ar_method() const {
    const auto& c = labeller_->config();
    if (!c.rivers) return "";
    return c.ar_method == heuristics::ArMethod::tmq ? "tmq" : "ivt";
  }
  double ivt_threshold() const { return labeller_->config().ivt.threshold; }
  double waves_threshold() const { return labeller_->config().wave.threshold_m; }
  int64_t candidates() const { return labeller_->candidates(); }
  std::string detectors() const { return cfg_.detector_text(); }

  // Pass 1 on steps t0.. of `channels` (each (n, H, W) as the roles' order), `days` their times.
  void add_candidates(const std::vector<FloatArray>& channels, int64_t t0, const std::vector<double>& days) {
    const Steps steps(specs_, names_, channels, vars_, file_units_, lat_, lon_);
    py::gil_scoped_release release;
    for_blocks(steps, [&](std::span<const pipelines::StepPlanes> planes, int64_t first) {
      checking_input([&] {
        labeller_->add_candidates(planes, t0 + first,
                                  std::span<const double>(days).subspan(size_t(first), planes.size()));
        return 0;
      });
    });
  }

  // The tracks as columns (the CSV's, longitudes as the dataset writes them).
  py::dict stitch(const std::vector<double>& days) {
    const auto& tracks =
        checking_input([&]() -> const std::vector<heuristics::TcTrack>& { return labeller_->stitch(days); });
    std::vector<int64_t> id, step, warm, thick;
    std::vector<double> lat, lon, psl, wind, vort, warm_d, thick_d;
    for (const auto& t : tracks)
      for (const auto& c : t.points) {
        id.push_back(t.id);
        step.push_back(c.step);
        lat.push_back(c.lat);
        lon.push_back(orientation_.file_longitude(c.lon));
        psl.push_back(c.psl_min);
        wind.push_back(c.wind_max);
        vort.push_back(c.vorticity);
        warm.push_back(c.warm_core ? 1 : 0);
        warm_d.push_back(c.warm_core_delta);
        thick.push_back(c.thickness ? 1 : 0);
        thick_d.push_back(c.thickness_delta);
      }
    py::dict d;
    d["track_id"] = id;
    d["step"] = step;
    d["lat"] = lat;
    d["lon"] = lon;
    d["psl_min_pa"] = psl;
    d["wind_max_m_s"] = wind;
    d["vorticity_s-1"] = vort;
    d["warm_core"] = warm;
    d["warm_core_delta_k"] = warm_d;
    d["thickness"] = thick;
    d["thickness_delta_m"] = thick_d;
    return d;
  }

  // Pass 2: LABELS (n, H, W) int8 in the dataset's layout and the kept rivers as columns.
  py::tuple label(const std::vector<FloatArray>& channels, int64_t t0) {
    const Steps steps(specs_, names_, channels, vars_, file_units_, lat_, lon_);
    const int64_t T = steps.steps(), Hf = steps.file_height(), Wf = steps.file_width();
    py::array_t<int8_t> out({T, Hf, Wf});
    auto* dst = reinterpret_cast<uint8_t*>(out.mutable_data());
    pipelines::StepsLabels labels;
    {
      py::gil_scoped_release release;
      for_blocks(steps, [&](std::span<const pipelines::StepPlanes> planes, int64_t first) {
        const size_t before = labels.classes.size();
        checking_input([&] {
          labeller_->label(planes, t0 + first, labels);
          return 0;
        });
        for (size_t k = before; k < labels.classes.size(); ++k)
          io::to_file_order(labels.classes[k].data(), dst + (first + int64_t(k - before)) * Hf * Wf, grid_.height(),
                            grid_.width(), orientation_);
        for (size_t k = before; k < labels.classes.size(); ++k) labels.classes[k] = {};
      });
    }
    std::vector<int64_t> step, river;
    std::vector<double> area, length, width, clat, clon, peak;
    for (size_t i = 0; i < labels.rivers.size(); ++i)
      for (const auto& o : labels.rivers[i]) {
        step.push_back(t0 + int64_t(i));
        river.push_back(o.stats.id);
        area.push_back(o.stats.area_km2);
        length.push_back(o.stats.length_km);
        width.push_back(o.stats.width_km);
        clat.push_back(o.stats.centroid_lat);
        clon.push_back(orientation_.file_longitude(o.stats.centroid_lon));
        peak.push_back(o.stats.peak_value);
      }
    py::dict d;
    d["step"] = step;
    d["river"] = river;
    d["area_km2"] = area;
    d["length_km"] = length;
    d["width_km"] = width;
    d["centroid_lat"] = clat;
    d["centroid_lon"] = clon;
    d["peak"] = peak;
    return py::make_tuple(out, d);
  }

 private:
  // Steps loaded a few at a time (bounded memory), as planes by role.
  template <class F>
  void for_blocks(const Steps& steps, F&& f) const {
    constexpr int64_t kBlock = 8;
    const int64_t n = grid_.size();
    std::vector<io::Sample> samples(static_cast<size_t>(kBlock));
    for (int64_t b = 0; b < steps.steps(); b += kBlock) {
      const int64_t m = std::min(kBlock, steps.steps() - b);
      std::vector<pipelines::StepPlanes> planes(static_cast<size_t>(m));
      for (int64_t i = 0; i < m; ++i) {
        io::Sample& s = samples[size_t(i)];
        steps.load(b + i, s);
        for (size_t c = 0; c < roles_.size(); ++c) {
          planes[size_t(i)].planes[roles_[c]] = {s.data.data() + int64_t(c) * n, size_t(n)};
          if (s.valid.numel() > 0) planes[size_t(i)].valid[roles_[c]] = {s.valid.data() + int64_t(c) * n, size_t(n)};
        }
      }
      f(std::span<const pipelines::StepPlanes>(planes), b);
    }
  }

  pipelines::LabelConfig cfg_;
  std::vector<Role> roles_;
  std::vector<io::ChannelSpec> specs_;
  std::vector<std::string> names_, vars_, file_units_;
  DoubleArray lat_, lon_;
  geo::Grid grid_;
  geo::Orientation orientation_;
  std::unique_ptr<pipelines::StepsLabeller> labeller_;
};

// One events call: the class maps (and the peak field) fed in time order, the ids mapped at the end.
class Events {
 public:
  Events(const std::string& config_json, const DoubleArray& lat, const DoubleArray& lon) : lat_(lat), lon_(lon) {
    checking_input([&] {
      cfg_ = pipelines::EventsConfig::from_json(nlohmann::json::parse(config_json));
      const io::CanonicalGrid g = io::canonical_grid(to_vector(lat), to_vector(lon), "the dataset's coordinates");
      grid_ = g.grid;
      orientation_ = g.orientation;
      events_ = std::make_unique<pipelines::StepsEvents>(cfg_, grid_, orientation_);
      return 0;
    });
  }

  // Steps t0.. of `maps` ((n, H, W) class ids, NaN where missing) and of `field` (empty or the same
  // shape); their component labels go into ids[t0:t0 + n] (int32, the dataset's layout).
  void add(const FloatArray& maps, const std::vector<FloatArray>& field, const std::vector<double>& days,
           const std::vector<std::string>& iso, py::array_t<int32_t, py::array::c_style> ids, int64_t t0,
           const std::string& where, const std::string& field_var, const std::string& field_units) {
    std::vector<io::ChannelSpec> specs = {io::ChannelSpec::parse("labels")};
    std::vector<FloatArray> arrays = {maps};
    std::vector<std::string> vars = {"labels"}, units = {""};
    if (!field.empty()) {
      specs.push_back(io::ChannelSpec::parse(field_var));
      arrays.push_back(field.front());
      vars.push_back(field_var);
      units.push_back(field_units);
    }
    std::vector<std::string> names = vars;
    const Steps steps(specs, names, arrays, vars, units, lat_, lon_);
    const int64_t T = steps.steps(), Hf = steps.file_height(), Wf = steps.file_width(), n = grid_.size();
    if (ids.ndim() != 3 || ids.shape(0) < t0 + T || ids.shape(1) != Hf || ids.shape(2) != Wf)
      throw py::value_error("events: the id array does not fit the class maps");
    if (days.size() != size_t(T) || iso.size() != size_t(T)) throw py::value_error("events: one time per step");
    int32_t* out = ids.mutable_data();
    py::gil_scoped_release release;
    io::Sample s;
    for (int64_t t = 0; t < T; ++t) {
      steps.load(t, s);
      std::span<const float> f, v;
      if (!field.empty()) {
        f = {s.data.data() + n, size_t(n)};
        if (s.valid.numel() > 0) v = {s.valid.data() + n, size_t(n)};
      }
      // A missing class id is background (the loader made it 0).
      const auto& labels = checking_input([&]() -> const analysis::ComponentLabels& {
        return events_->add({s.data.data(), size_t(n)}, days[size_t(t)], iso[size_t(t)], f, v, where);
      });
      io::to_file_order(labels.labels.data(), out + (t0 + t) * Hf * Wf, grid_.height(), grid_.width(), orientation_);
      steps_.push_back(t0 + t);
    }
  }

  // Ends the events; maps ids (component labels) to event ids in place; returns the tables' text
  // and the summary (JSON text).
  py::tuple finish(py::array_t<int32_t, py::array::c_style> ids) {
    int32_t* p = ids.mutable_data();
    const int64_t plane = ids.ndim() == 3 ? ids.shape(1) * ids.shape(2) : 0;
    {
      py::gil_scoped_release release;
      checking_input([&] {
        events_->finish();
        for (int64_t t : steps_)
          for (int64_t k = 0; k < plane; ++k) {
            int32_t& c = p[t * plane + k];
            c = int32_t(events_->event_id(t, c));
          }
        return 0;
      });
    }
    return py::make_tuple(events_->events_csv(), events_->points_csv(), events_->summary().dump());
  }

 private:
  pipelines::EventsConfig cfg_;
  DoubleArray lat_, lon_;
  geo::Grid grid_;
  geo::Orientation orientation_;
  std::unique_ptr<pipelines::StepsEvents> events_;
  std::vector<int64_t> steps_;
};

// climseg.stats: the channels (each (n, H, W) as the file holds them) fed in run_stats' passes.
class Stats {
 public:
  Stats(const std::vector<std::string>& vars, std::vector<std::string> units, const DoubleArray& lat,
        const DoubleArray& lon, bool area_weighted, const std::vector<double>& percentiles)
      : vars_(vars), units_(std::move(units)), lat_(lat), lon_(lon) {
    for (const auto& v : vars) specs_.push_back(checking_input([&] { return io::ChannelSpec::parse(v); }));
    const io::CanonicalGrid g =
        checking_input([&] { return io::canonical_grid(to_vector(lat), to_vector(lon), "the dataset's coordinates"); });
    grid_ = g.grid;
    stats_ = std::make_unique<pipelines::StepsStats>(vars, units_, grid_, area_weighted, percentiles);
  }
  bool wants_percentiles() const { return stats_->wants_percentiles(); }
  void add(const std::vector<FloatArray>& channels, bool percentiles) {
    const Steps steps(specs_, vars_, channels, vars_, units_, lat_, lon_);
    py::gil_scoped_release release;
    io::Sample s;
    for (int64_t t = 0; t < steps.steps(); ++t) {
      steps.load(t, s);
      if (percentiles)
        stats_->add_percentiles(s);
      else
        stats_->add(s);
    }
  }
  std::string json() {
    return checking_input([&] { return stats_->json().dump(); });
  }

 private:
  std::vector<std::string> vars_, units_;
  std::vector<io::ChannelSpec> specs_;
  DoubleArray lat_, lon_;
  geo::Grid grid_;
  std::unique_ptr<pipelines::StepsStats> stats_;
};

// What the package needs to find roles in a Dataset as resolve_roles finds them in files: the roles
// the configuration's detectors look for, each role's names tried in order, CF standard names, level.
py::dict label_roles(const std::string& config_json) {
  const pipelines::LabelConfig cfg =
      checking_input([&] { return pipelines::LabelConfig::from_json(nlohmann::json::parse(config_json)); });
  py::list wanted;
  for (const Role r : pipelines::StepsLabeller::wanted_roles(cfg)) wanted.append(pipelines::role_name(r));
  py::dict roles;
  for (const Role r : pipelines::all_roles()) {
    py::dict d;
    d["defaults"] = pipelines::role_defaults(r);
    const io::Quantity* q = io::quantity_of_role(pipelines::role_name(r));
    d["standard_names"] = q ? q->standard_names : std::vector<std::string>{};
    d["level"] = q ? io::level_spec(q->level) : std::string();
    d["three_d"] = pipelines::is_3d(r);
    roles[pipelines::role_name(r)] = d;
  }
  py::dict out;
  out["wanted"] = wanted;
  out["roles"] = roles;
  return out;
}

// A command's flags as (flags, key, kind, help): the names the keyword arguments take.
py::list aliases_of(const std::vector<config::Alias>& aliases) {
  py::list out;
  for (const config::Alias& a : aliases) {
    const char* kind = a.kind == config::Alias::Kind::flag       ? "flag"
                       : a.kind == config::Alias::Kind::flag_off ? "flag_off"
                       : a.kind == config::Alias::Kind::list     ? "list"
                                                                 : "value";
    out.append(py::make_tuple(a.flags, a.key, kind, a.help));
  }
  return out;
}

}  // namespace

void bind_pipelines(py::module_& mod) {
  mod.def("label_roles", &label_roles, py::arg("config_json"));
  mod.def("label_aliases", [] { return aliases_of(pipelines::LabelConfig::cli_aliases()); });
  mod.def("label_defaults", [] { return pipelines::LabelConfig{}.to_json().dump(); });
  mod.def("label_classes", [] { return heuristics::class_names(); });
  mod.def("events_aliases", [] { return aliases_of(pipelines::EventsConfig::cli_aliases()); });
  mod.def("events_defaults", [] { return pipelines::EventsConfig{}.to_json().dump(); });
  py::class_<Events>(mod, "Events")
      .def(py::init<const std::string&, const DoubleArray&, const DoubleArray&>(), py::arg("config_json"),
           py::arg("lat"), py::arg("lon"))
      .def("add", &Events::add, py::arg("maps"), py::arg("field"), py::arg("days"), py::arg("iso"), py::arg("ids"),
           py::arg("t0"), py::arg("where"), py::arg("field_var"), py::arg("field_units"))
      .def("finish", &Events::finish, py::arg("ids"));
  mod.def(
      "stats_check",
      [](const std::string& text) {
        checking_input([&] {
          (void)pipelines::StatsConfig::from_json(nlohmann::json::parse(text));
          return 0;
        });
      },
      py::arg("config_json"));
  mod.def("stats_aliases", [] { return aliases_of(pipelines::StatsConfig::cli_aliases()); });
  py::class_<Stats>(mod, "Stats")
      .def(py::init<const std::vector<std::string>&, std::vector<std::string>, const DoubleArray&, const DoubleArray&,
                    bool, const std::vector<double>&>(),
           py::arg("vars"), py::arg("units"), py::arg("lat"), py::arg("lon"), py::arg("area_weighted"),
           py::arg("percentiles"))
      .def_property_readonly("wants_percentiles", &Stats::wants_percentiles)
      .def("add", &Stats::add, py::arg("channels"), py::arg("percentiles"))
      .def("json", &Stats::json);
  py::class_<Detector>(mod, "Detector")
      .def(py::init<const std::string&, const std::vector<std::string>&, const std::vector<std::string>&,
                    std::vector<std::string>, const DoubleArray&, const DoubleArray&, const std::string&,
                    const std::map<std::string, std::string>&>(),
           py::arg("config_json"), py::arg("roles"), py::arg("vars"), py::arg("file_units"), py::arg("lat"),
           py::arg("lon"), py::arg("where"), py::arg("present_3d"))
      .def_property_readonly("ar_method", &Detector::ar_method)
      .def_property_readonly("ivt_threshold", &Detector::ivt_threshold)
      .def_property_readonly("waves_threshold", &Detector::waves_threshold)
      .def_property_readonly("candidates", &Detector::candidates)
      .def_property_readonly("detectors", &Detector::detectors)
      .def("add_candidates", &Detector::add_candidates, py::arg("channels"), py::arg("t0"), py::arg("days"))
      .def("stitch", &Detector::stitch, py::arg("days"))
      .def("label", &Detector::label, py::arg("channels"), py::arg("t0"));
}

}  // namespace climseg::python
