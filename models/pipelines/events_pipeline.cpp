// `climseg events` as a library (see events_pipeline.hpp).
#include "models/pipelines/events_pipeline.hpp"

#include <fmt/format.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <sstream>

#include "analysis/summary.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "core/timer.hpp"
#include "models/heuristics/labels.hpp"
#include "models/pipelines/archive_roles.hpp"
#include "readers/archive.hpp"
#include "readers/column_file.hpp"
#include "readers/partition.hpp"
#include "readers/run_key.hpp"
#include "readers/scrip.hpp"
#include "readers/writer.hpp"

namespace climseg::pipelines {

namespace fs = std::filesystem;

namespace {

// A class list: numbers 1..255, as a list or as the flag's text ("1,2"); `option` names the flag.
std::vector<int> read_classes(config::Reader& r, const char* key, const char* option, std::vector<int> fallback) {
  nlohmann::json v;
  r.get_json(key, v);
  if (v.is_null()) return fallback;
  std::string text;
  if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_array()) {
    for (const auto& x : v) {
      if (!x.is_number_integer() && !x.is_string()) r.fail(key, "must be a list of classes (numbers 1..255)");
      text += (text.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : x.dump());
    }
  } else {
    r.fail(key, "must be a list of classes (numbers 1..255)");
  }
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    int c = -1;
    try {
      c = std::stoi(item);
    } catch (const std::exception&) {
    }
    if (c < 1 || c > 255) fail_usage("{} {}: classes are numbers 1..255", option, text);
    out.push_back(c);
  }
  return out;
}

std::vector<uint8_t> as_classes(const std::vector<int>& v) { return {v.begin(), v.end()}; }

}  // namespace

nlohmann::json EventsConfig::to_json() const {
  return {{"in", in},
          {"out", out},
          {"labels_var", labels_var},
          {"classes", classes},
          {"field", field},
          {"field_in", field_in},
          {"peak", config::to_string(peak)},
          {"min_overlap", min_overlap},
          {"max_speed", max_speed},
          {"distance_classes", distance_classes},
          {"max_gap", max_gap},
          {"min_steps", min_steps},
          {"min_lifetime", min_lifetime},
          {"min_area", min_area},
          {"genesis_cell", genesis_cell},
          {"step_hours", step_hours},
          {"chunk", chunk},
          {"ids", ids},
          {"plots", plots}};
}

EventsConfig EventsConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail_usage("events config: must be a JSON object");
  EventsConfig c;
  config::Reader r(j, "events config");
  r.get_list("in", c.in);
  r.get("out", c.out);
  r.get("labels_var", c.labels_var);
  c.classes = read_classes(r, "classes", "--classes", c.classes);
  r.get("field", c.field);
  r.get("field_in", c.field_in);
  r.get_enum("peak", c.peak);
  r.get("min_overlap", c.min_overlap);
  r.get("max_speed", c.max_speed);
  c.distance_classes = read_classes(r, "distance_classes", "--distance-classes", c.distance_classes);
  r.get("max_gap", c.max_gap);
  r.get("min_steps", c.min_steps);
  r.get("min_lifetime", c.min_lifetime);
  r.get("min_area", c.min_area);
  r.get("genesis_cell", c.genesis_cell);
  r.get("step_hours", c.step_hours);
  r.get("chunk", c.chunk);
  r.get("ids", c.ids);
  r.get("plots", c.plots);
  r.finish(EventsConfig{}.to_json());
  if (c.in.empty()) r.fail("in", "is required (--in: the class-map archive)");
  if (c.out.empty()) r.fail("out", "is required (--out: the output directory)");
  if (c.chunk < 1) fail_usage("--chunk must be >= 1");
  return c;
}

const std::vector<config::Alias>& EventsConfig::cli_aliases() {
  using K = config::Alias::Kind;
  static const std::vector<config::Alias> a = {
      {"--in", "in", "Class-map archive: files, directories, globs or @lists (climseg label / predict)", K::list},
      {"--out", "out", "Output directory (created if missing)"},
      {"--labels-var", "labels_var", "Class-map variable: auto (LABELS, else class_mask), or a name"},
      {"--classes", "classes", "Classes to follow, comma-separated (default: every nonzero class)"},
      {"--field", "field", "Field whose peak each component reports (e.g. PSL, TMQ, IVT)"},
      {"--field-in", "field_in", "Archive holding --field (default: the class-map archive itself)"},
      {"--peak", "peak", "Peak of --field: max or min"},
      {"--min-overlap", "min_overlap", "Overlap (of the smaller component) that links steps"},
      {"--max-speed", "max_speed", "Distance linking: km per day"},
      {"--distance-classes", "distance_classes", "Classes also linked by distance (cyclones)"},
      {"--max-gap", "max_gap", "Steps further apart (days) end every event; 0: 1.5 steps"},
      {"--min-steps", "min_steps", "Events with fewer steps are dropped"},
      {"--min-lifetime", "min_lifetime", "Events shorter (days) are dropped"},
      {"--min-area", "min_area", "Events whose largest component is smaller (km2) are dropped"},
      {"--genesis-cell", "genesis_cell", "Genesis density cell, degrees"},
      {"--step-hours", "step_hours", "Time between samples when the archive has no decodable time"},
      {"--chunk", "chunk", "Steps per rank per round (memory: one round of component tables)"},
      {"--no-ids", "ids", "Skip event_ids.nc (the second pass over the archive)", K::flag_off},
      {"--no-plots", "plots", "Skip the PNG histograms and genesis maps", K::flag_off},
  };
  return a;
}

namespace {

analysis::LinkParams link_params(const EventsConfig& cfg) {
  analysis::LinkParams link;
  link.min_overlap_fraction = cfg.min_overlap;
  link.max_speed_km_per_day = cfg.max_speed;
  link.distance_classes = as_classes(cfg.distance_classes);
  link.max_gap_days = cfg.max_gap;
  link.min_steps = cfg.min_steps;
  link.min_lifetime_days = cfg.min_lifetime;
  link.min_area_km2 = cfg.min_area;
  link.validate();
  return link;
}

analysis::SummaryParams summary_params_of(const EventsConfig& cfg) {
  analysis::SummaryParams p;
  p.genesis_cell_deg = cfg.genesis_cell;
  p.class_names = heuristics::class_names();
  p.validate();
  return p;
}

// events_summary.json's statistics (the run key, config and outputs are the caller's).
nlohmann::json summary_json(const analysis::EventSummary& summary, const analysis::EventLinker& linker,
                            const analysis::LinkParams& link, int64_t steps, const geo::Grid& grid) {
  nlohmann::json js = summary.to_json();
  js["steps"] = steps;
  js["grid"] = grid.shape_str();
  js["events_started"] = linker.events_started();
  js["events_kept"] = linker.events_kept();
  js["link"] = {
      {"min_overlap_fraction", link.min_overlap_fraction}, {"max_speed_km_per_day", link.max_speed_km_per_day},
      {"distance_classes", link.distance_classes},         {"min_steps", link.min_steps},
      {"min_lifetime_days", link.min_lifetime_days},       {"min_area_km2", link.min_area_km2}};
  return js;
}

// Hands the allocator's free pages back to the system. The live heap stays near 7 MB on any archive
// length, but glibc kept the pages freed between steps (per-step planes interleaved with long-lived
// event records), so the resident size grew with the archive: 24 MB more over 576 steps at 96x144.
void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

// Why a sample's labels are not a class map ("" when they are): class ids are integers 0..255,
// negative or missing values being fill.
std::string class_map_problem(const io::Sample& s) {
  for (float v : s.labels)
    if (std::isfinite(v) && v >= 0 && (v != std::floor(v) || v > 255))
      return fmt::format("values such as {:g} are not class ids (integers 0..255)", v);
  return {};
}

// Refuses a labels variable that is not an integer class map (events --labels-var TMQ would
// otherwise turn a float field into thousands of "events"), suggesting the class maps the
// files hold.
void check_class_map(const io::Archive& a, const std::string& labels_var) {
  const std::string var = labels_var == "auto" ? std::string("LABELS") : io::ChannelSpec::parse(labels_var).var;
  const io::Sample s = a.load(0);
  const std::string problem = class_map_problem(s);
  if (problem.empty()) return;
  std::vector<std::string> maps;
  const io::VarMeta* v = nullptr;
  for (const io::FileMeta& f : a.files()) {
    if (v == nullptr) v = f.find_var(var);
    for (const char* name : {"class_mask", "LABELS", "climate/labels_0"})
      if (f.find_var(name) != nullptr && name != var &&
          std::find(maps.begin(), maps.end(), std::string(name)) == maps.end())
        maps.emplace_back(name);
  }
  fail("{}: --labels-var {}: variable {} ({}{}) is not an integer class map: {}; {}", s.file, labels_var, var,
       v != nullptr ? v->type : std::string("?"), v != nullptr && !v->units.empty() ? ", units " + v->units : "",
       problem,
       maps.empty() ? std::string("events reads the class maps climseg label (LABELS) and predict (class_mask) write")
                    : fmt::format("try --labels-var {}", maps.front()));
}

analysis::ClassComponents label_step(const io::Archive& a, int64_t i, const std::vector<uint8_t>& classes) {
  const io::Sample s = a.load(i);
  if (const std::string problem = class_map_problem(s); !problem.empty())
    fail("{}: step {}: the class map holds {}", s.file, i, problem);
  std::vector<uint8_t> map(size_t(s.grid.size()), 0);
  for (int64_t k = 0; k < s.grid.size(); ++k) {
    const float v = s.labels[k];
    map[size_t(k)] = v > 0 && v < 256 ? uint8_t(v) : 0;  // fill (−1) and background are 0
  }
  return analysis::label_classes(s.grid, map, classes);
}

// Files in `out` that an earlier events run wrote and this run does not: those its summary names,
// and events' own names (for summaries from before the list).
std::vector<fs::path> earlier_outputs(const std::string& out, const std::vector<std::string>& written) {
  std::set<std::string> names = {"events_summary.nc", "event_ids.nc"};
  for (const auto& c : heuristics::class_names())
    for (const char* kind : {"lifetime", "speed", "genesis"}) names.insert(fmt::format("{}_{}.png", kind, c));
  std::error_code ec;
  const fs::path old_summary = fs::path(out) / "events_summary.json";
  if (fs::is_regular_file(old_summary, ec)) {
    try {
      const auto old = nlohmann::json::parse(read_file(old_summary));
      if (old.contains("outputs"))
        for (const auto& n : old["outputs"]) {
          const std::string name = n.get<std::string>();
          if (fs::path(name).filename() == name && name != ".." && name != ".") names.insert(name);
        }
    } catch (const std::exception&) {
      // Not an events summary: only events' own names are candidates.
    }
  }
  std::vector<fs::path> stale;
  for (const auto& n : names)
    if (std::find(written.begin(), written.end(), n) == written.end() && fs::is_regular_file(fs::path(out) / n, ec))
      stale.push_back(fs::path(out) / n);
  return stale;
}

// The end of rank 0's work in both paths (lat-lon and columns): the pictures, the summary naming
// every output, all committed together, then an earlier run's leftovers removed; the report filled.
void finish_outputs(const EventsConfig& cfg, const analysis::EventLinker& linker, nlohmann::json js,
                    std::vector<std::string> written, OutputGroup& outputs, EventsReport& report) {
  if (cfg.plots) {
    const fs::path pictures = outputs.add_folder(cfg.out);
    analysis::write_summary_pictures(js, pictures);
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(pictures)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    written.insert(written.end(), names.begin(), names.end());
  }
  js["outputs"] = written;
  const std::vector<fs::path> stale = earlier_outputs(cfg.out, written);
  write_file_atomically(outputs.add(fs::path(cfg.out) / "events_summary.json"), js.dump(2) + "\n");
  outputs.commit();
  for (const auto& f : stale) {
    std::error_code ec;
    if (fs::remove(f, ec)) log::info("removed {} (an earlier run's; this run does not write it)", f.string());
  }
  report.events_started = linker.events_started();
  report.events_kept = linker.events_kept();
  report.summary = std::move(js);
  report.written = std::move(written);
}

// Writes the summary's NetCDF twin; false (nothing written) when no event was kept.
bool write_summary_netcdf(const analysis::EventSummary& sum, const analysis::SummaryParams& params,
                          const std::string& run_key, const fs::path& path, OutputGroup& outputs) {
  io::OutputSpec spec;
  for (double v : sum.genesis_lat()) spec.grid.lat.push_back(v);
  for (double v : sum.genesis_lon()) spec.grid.lon.push_back(v);
  spec.grid.periodic = true;
  std::vector<uint8_t> cls;
  for (const auto& [c, _] : sum.classes()) cls.push_back(c);
  const int64_t C = int64_t(cls.size()), L = int64_t(params.lifetime_edges_days.size()),
                V = int64_t(params.speed_edges_m_s.size());
  if (C == 0) {
    log::info("no events: {} not written", path.string());
    return false;
  }
  // Genesis years present (numeric keys of per_year; "unknown" is counted apart).
  std::set<int> years;
  for (const auto& [c, pc] : sum.classes())
    for (const auto& [y, n] : pc.per_year)
      if (y != "unknown") years.insert(std::stoi(y));
  const int64_t Y = int64_t(years.size());
  spec.dims = {{"class", C}, {"lifetime_bin", L}, {"speed_bin", V}};
  if (Y > 0) spec.dims.push_back({"year", Y});
  std::string meanings;
  for (uint8_t c : cls)
    meanings += (meanings.empty() ? "" : " ") + heuristics::class_names().at(std::min<size_t>(c, 3));
  spec.variables.push_back({"class",
                            NC_INT,
                            {"class"},
                            {io::Attr::str("long_name", "class value"), io::Attr::str("class_names", meanings)}});
  spec.variables.push_back(
      {"events", NC_INT, {"class"}, {io::Attr::str("long_name", "events kept, all years (rows of events.csv)")}});
  spec.variables.push_back({"events_unknown_year",
                            NC_INT,
                            {"class"},
                            {io::Attr::str("long_name", "events whose genesis step has no date")}});
  if (Y > 0) {
    spec.variables.push_back({"year", NC_INT, {"year"}, {io::Attr::str("long_name", "genesis year")}});
    spec.variables.push_back(
        {"events_per_year", NC_INT, {"class", "year"}, {io::Attr::str("long_name", "events by year of genesis")}});
  }
  spec.variables.push_back({"lifetime_bin_lower", NC_DOUBLE, {"lifetime_bin"}, {io::Attr::str("units", "days")}});
  spec.variables.push_back({"speed_bin_lower", NC_DOUBLE, {"speed_bin"}, {io::Attr::str("units", "m s-1")}});
  spec.variables.push_back({"lifetime_histogram",
                            NC_INT,
                            {"class", "lifetime_bin"},
                            {io::Attr::str("long_name", "events per lifetime bin (last bin open-ended)")}});
  spec.variables.push_back({"speed_histogram",
                            NC_INT,
                            {"class", "speed_bin"},
                            {io::Attr::str("long_name", "events per mean-speed bin (last bin open-ended)")}});
  spec.variables.push_back({"genesis_count",
                            NC_INT,
                            {"class", io::kLatAxis, io::kLonAxis},
                            {io::Attr::str("long_name", "events starting in each cell")}});
  spec.variables.push_back(
      {"genesis_density",
       NC_FLOAT,
       {"class", io::kLatAxis, io::kLonAxis},
       {io::Attr::str("long_name", "events starting per 10^6 km2"), io::Attr::str("units", "1e-6 km-2")}});
  spec.global_attrs.push_back(io::Attr::str("title", "climseg events summary"));
  spec.provenance.run_key = run_key;
  io::CfWriter w(outputs.add(path), spec);
  std::vector<double> cv(cls.begin(), cls.end());
  w.write_values("class", cv);
  std::vector<double> total, unknown, per_year, yv(years.begin(), years.end());
  for (uint8_t c : cls) {
    const auto& pc = sum.classes().at(c);
    total.push_back(double(pc.events));
    const auto u = pc.per_year.find("unknown");
    unknown.push_back(u == pc.per_year.end() ? 0.0 : double(u->second));
    for (int y : years) {
      const auto it = pc.per_year.find(fmt::format("{:04d}", y));
      per_year.push_back(it == pc.per_year.end() ? 0.0 : double(it->second));
    }
  }
  w.write_values("events", total);
  w.write_values("events_unknown_year", unknown);
  if (Y > 0) {
    w.write_values("year", yv);
    w.write_values("events_per_year", per_year);
  }
  w.write_values("lifetime_bin_lower", params.lifetime_edges_days);
  w.write_values("speed_bin_lower", params.speed_edges_m_s);
  std::vector<double> lh, sh;
  std::vector<float> count, dens;
  for (uint8_t c : cls) {
    const auto& pc = sum.classes().at(c);
    lh.insert(lh.end(), pc.lifetime_hist.begin(), pc.lifetime_hist.end());
    sh.insert(sh.end(), pc.speed_hist.begin(), pc.speed_hist.end());
    count.insert(count.end(), pc.genesis.begin(), pc.genesis.end());
    const auto d = sum.genesis_density(c);
    dens.insert(dens.end(), d.begin(), d.end());
  }
  w.write_values("lifetime_histogram", lh);
  w.write_values("speed_histogram", sh);
  w.write("genesis_count", 0, 1, count.data());
  w.write("genesis_density", 0, 1, dens.data());
  w.close();
  return true;
}

// Pass 2 (root): the event id of every labelled cell, from the per-step component ids of pass 1.
void write_ids(const io::Archive& a, const std::vector<uint8_t>& classes, const analysis::EventLinker& linker,
               const fs::path& tmp, const fs::path& path, const std::string& run_key, bool progress_on) {
  // Laid out like the first class-map file, one step per step of the whole archive: a scalar time
  // (or none) becomes a record axis when there are several steps.
  const io::FileMeta& meta = a.files().front();
  io::OutputSpec spec = io::output_like(meta);
  const int64_t S = a.size();
  if (S > 1 && spec.time_kind == io::TimeKind::scalar) {
    spec.time_kind = io::TimeKind::record;
    spec.time_dim = spec.time_name;
  } else if (S > 1 && spec.time_kind == io::TimeKind::none) {
    spec.time_kind = io::TimeKind::record;
    spec.time_dim = "time";
    spec.time_name.clear();  // a dimension without values: the inputs have no time
  }
  spec.time_steps = S;
  spec.provenance.inputs.clear();
  for (const auto& f : a.files()) spec.provenance.inputs.push_back(f.path);
  // Steps of other files are encoded in the first file's units when dates are known; raw values
  // otherwise (the same units in every file, or a warning).
  bool dated = true;
  for (int64_t i = 0; i < S && dated; ++i) dated = a.info(i).has_date;
  std::optional<io::TimeUnits> units;
  if (dated && spec.has_time() && !spec.time_units().empty())
    units = io::TimeUnits::parse(spec.time_units(), spec.calendar());
  if (!units)
    for (const auto& f : a.files())
      if (f.time_units != meta.time_units)
        log::warn(
            "{}: time units '{}' differ from '{}' in {}, and cannot be decoded: event_ids.nc keeps the raw "
            "values in the first file's units",
            f.path, f.time_units, meta.time_units, meta.path);
  io::VarDef v{
      "event_id", NC_INT, io::grid_dims(), {io::Attr::str("long_name", "event id (rows of events.csv); 0: no event")}};
  spec.variables.push_back(v);
  spec.global_attrs.push_back(io::Attr::str("title", "climseg event ids"));
  spec.provenance.run_key = run_key;
  io::CfWriter w(path, spec);
  std::ifstream in(tmp, std::ios::binary);
  std::vector<float> plane(size_t(a.grid().size()));
  Progress progress("events: id map", a.size(), progress_on);
  for (int64_t i = 0; i < a.size(); ++i) {
    int64_t step = -1, n = 0;
    in.read(reinterpret_cast<char*>(&step), sizeof step);
    in.read(reinterpret_cast<char*>(&n), sizeof n);
    std::vector<int64_t> ids(static_cast<size_t>(std::max<int64_t>(0, n)));
    in.read(reinterpret_cast<char*>(ids.data()), std::streamsize(ids.size() * sizeof(int64_t)));
    if (!in || step != i) fail("{}: the component table is damaged at step {}", tmp.string(), i);
    const auto comps = label_step(a, i, classes);
    if (comps.labels.count != n)
      fail("events: step {} has {} components now but {} in pass 1", i, comps.labels.count, n);
    for (size_t k = 0; k < plane.size(); ++k) {
      const int32_t c = comps.labels.labels[k];
      plane[k] = c > 0 && linker.kept(ids[size_t(c - 1)]) ? float(ids[size_t(c - 1)]) : 0.0f;
    }
    const io::SampleInfo info = a.info(i);
    if (spec.has_time()) {
      const double t = units ? units->encode(info.date) : info.time_value;
      w.write_time(i, std::span<const double>(&t, 1));
    }
    w.write("event_id", i, plane.data());
    progress.advance();
    if (i % 16 == 15) release_free_memory();
  }
  progress.finish();
  w.close();
}

// Events on unstructured columns (CAM-SE ncol, SCRIP, UGRID class maps, from label or predict on
// columns): components over the columns' neighbours with areas from the cells, linked and filtered as
// on lat-lon; event_ids.nc on the native columns (lat, lon copied from the input). The grid is built
// on the root and broadcast; steps are described in rounds over the ranks, linked on the root.
EventsReport run_events_columns(const EventsConfig& cfg, const Comm& world, const RunOptions& run,
                                const analysis::LinkParams& link, const analysis::SummaryParams& summary_params) {
  Stopwatch clock;
  const std::vector<uint8_t> classes = as_classes(cfg.classes);
  const std::vector<std::string>& class_names = heuristics::class_names();
  const bool peak_min = cfg.peak == Peak::min;
  const std::string labels_var = cfg.labels_var == "auto" ? class_map_variable(cfg.in, "--labels-var") : cfg.labels_var;
  const io::ColumnArchive labels = io::ColumnArchive::open(cfg.in, {labels_var});
  std::unique_ptr<io::ColumnArchive> field_archive;
  if (!cfg.field.empty()) {
    if (cfg.field.find_first_of("@[=") != std::string::npos)
      fail_usage("--field {}: on unstructured columns a variable name (no levels or files)", cfg.field);
    field_archive = std::make_unique<io::ColumnArchive>(
        io::ColumnArchive::open(cfg.field_in.empty() ? cfg.in : std::vector<std::string>{cfg.field_in}, {cfg.field}));
    if (field_archive->size() != labels.size() || field_archive->layout().columns != labels.layout().columns)
      fail("{}: {} steps of {} columns, but the class maps have {} of {}", field_archive->files().front(),
           field_archive->size(), field_archive->layout().columns, labels.size(), labels.layout().columns);
  }
  const int64_t S = labels.size();
  geo::UnstructuredGrid grid;
  if (world.is_root()) grid = io::read_unstructured_grid(labels.files().front());
  grid.broadcast(world);
  const int64_t N = grid.size();
  std::vector<std::string> key_files = labels.files();
  if (field_archive && !cfg.field_in.empty())
    key_files.insert(key_files.end(), field_archive->files().begin(), field_archive->files().end());
  const std::string run_key =
      io::make_run_key("events", alias_values(cfg.to_json(), EventsConfig::cli_aliases(), {"in", "out", "field_in"}),
                       key_files)
          .text();
  std::vector<double> days(static_cast<size_t>(S));
  std::vector<std::string> iso(static_cast<size_t>(S));
  const bool timed = S > 0 && !labels.iso(0).empty();
  if (!timed && S > 1) log::warn("{}: no decodable time axis: steps taken {} h apart", cfg.in.front(), cfg.step_hours);
  for (int64_t i = 0; i < S; ++i) {
    days[size_t(i)] = timed ? labels.days(i) - labels.days(0) : double(i) * cfg.step_hours / 24.0;
    iso[size_t(i)] = timed ? labels.iso(i) : std::string{};
  }
  const auto [in_lat, in_lon] = io::read_column_positions(labels.files().front());
  geo::Orientation orientation;
  orientation.lon_signed = std::any_of(in_lon.begin(), in_lon.end(), [](double x) { return x < 0; });
  log::info("events: {} steps on {} ({} columns), {} rank(s)", S, grid.description, N, world.size());

  auto components = [&](int64_t i) {
    const std::vector<float> v = labels.read(labels_var, i);
    std::vector<uint8_t> map(size_t(N), 0);
    for (size_t k = 0; k < map.size(); ++k) {
      if (std::isfinite(v[k]) && v[k] >= 0 && (v[k] != std::floor(v[k]) || v[k] > 255))
        fail("{}: step {}: --labels-var {}: values such as {:g} are not class ids (integers 0..255)",
             labels.steps()[size_t(i)].file, i, labels_var, v[k]);
      map[k] = v[k] > 0 && v[k] < 256 ? uint8_t(v[k]) : 0;  // fill and background are 0
    }
    return analysis::label_classes(grid, map, classes);
  };

  analysis::EventLinker linker(link);
  analysis::EventSummary summary(summary_params);
  const bool root = world.is_root();
  OutputGroup outputs;
  std::ofstream events_csv, points_csv;
  if (root) {
    events_csv.open(outputs.add(fs::path(cfg.out) / "events.csv"), std::ios::binary | std::ios::trunc);
    points_csv.open(outputs.add(fs::path(cfg.out) / "event_points.csv"), std::ios::binary | std::ios::trunc);
    if (!events_csv || !points_csv) fail("{}: cannot write the event tables", cfg.out);
    events_csv << analysis::events_csv_header();
    points_csv << analysis::points_csv_header();
  }
  std::vector<std::vector<int64_t>> step_ids;  // root: the event id of each component, per step
  const int64_t per_round = cfg.chunk * world.size();
  Progress progress("events", S, run.progress);
  int64_t described = 0;
  auto flush_finished = [&] {
    for (const auto& e : linker.take_finished()) {
      events_csv << analysis::event_csv_row(e, class_names, peak_min, orientation);
      points_csv << analysis::points_csv_rows(e, class_names, orientation);
      summary.add(e);
    }
  };
  for (int64_t r0 = 0; r0 < S; r0 += per_round) {
    const int64_t n_round = std::min(per_round, S - r0);
    const io::Block b = io::block_partition(n_round, world.rank(), world.size());
    std::vector<analysis::StepObjects> mine;
    analysis::ClassComponents prev;
    const int64_t from = b.size() == 0 ? r0 + b.end : r0 + b.begin - (r0 + b.begin > 0 ? 1 : 0);
    bool have_prev = false;
    for (int64_t i = from; i < r0 + b.end; ++i) {
      analysis::ClassComponents now = components(i);
      if (i >= r0 + b.begin) {
        std::vector<float> field, valid;
        analysis::StatsOptions so;
        so.peak_is_minimum = peak_min;
        if (field_archive) {
          field = field_archive->read(cfg.field, i);
          so.field = field;
          if (std::any_of(field.begin(), field.end(), [](float x) { return std::isnan(x); })) {
            valid.resize(field.size());
            for (size_t k = 0; k < field.size(); ++k) valid[k] = std::isnan(field[k]) ? 0.0f : 1.0f;
            so.valid = valid;
          }
        }
        mine.push_back(
            analysis::describe_step(grid, now, have_prev ? &prev : nullptr, i, days[size_t(i)], iso[size_t(i)], so));
      }
      prev = std::move(now);
      have_prev = true;
    }
    const auto parts = world.allgather(analysis::serialize_steps(mine));
    progress.advance(b.size());
    if (!root) continue;
    for (const auto& part : parts)
      for (const auto& step : analysis::deserialize_steps(part)) {
        step_ids.push_back(linker.add(step));
        ++described;
        flush_finished();
      }
  }
  progress.finish();
  EventsReport report;
  report.steps = S;
  if (root) {
    linker.finish();
    flush_finished();
    if (described != S) fail("events: linked {} of {} steps", described, S);
    for (auto* f : {&events_csv, &points_csv}) {
      f->close();
      if (!*f) fail("{}: could not write the event tables (disk full?)", cfg.out);
    }
    nlohmann::json js = summary.to_json();
    js["steps"] = S;
    js["run_key"] = nlohmann::json::parse(run_key);
    js["grid"] = fmt::format("{} columns ({})", N, grid.description);
    js["events_started"] = linker.events_started();
    js["events_kept"] = linker.events_kept();
    js["link"] = {
        {"min_overlap_fraction", link.min_overlap_fraction}, {"max_speed_km_per_day", link.max_speed_km_per_day},
        {"distance_classes", link.distance_classes},         {"min_steps", link.min_steps},
        {"min_lifetime_days", link.min_lifetime_days},       {"min_area_km2", link.min_area_km2}};
    js["config"] = cfg.to_json();
    std::vector<std::string> written = {"events.csv", "event_points.csv", "events_summary.json"};
    if (write_summary_netcdf(summary, summary_params, run_key, fs::path(cfg.out) / "events_summary.nc", outputs))
      written.push_back("events_summary.nc");
    if (cfg.ids) {
      // The event id of every column, on the native columns.
      io::ColumnFileSpec spec = io::column_spec(grid);
      if (in_lat.size() == spec.lat.size()) {
        spec.lat = in_lat;
        spec.lon = in_lon;
      }
      spec.column_dim = labels.layout().dimension;
      spec.time_units = labels.time_units().empty() ? "days since 0001-01-01 00:00:00" : labels.time_units();
      spec.calendar = labels.calendar();
      spec.variables.push_back({"event_id",
                                NC_INT,
                                true,
                                {io::Attr::str("long_name", "event id (rows of events.csv); 0: no event"),
                                 io::Attr::str("coordinates", "lat lon")},
                                std::nullopt});
      spec.global_attrs = {io::Attr::str("title", "climseg event ids"), io::Attr::str(io::kRunKeyAttr, run_key),
                           io::Attr::str("source_grid", grid.description)};
      io::ColumnWriter w(outputs.add(fs::path(cfg.out) / "event_ids.nc"), spec);
      std::vector<float> plane(static_cast<size_t>(N));
      for (int64_t i = 0; i < S; ++i) {
        const auto comps = components(i);
        const std::vector<int64_t>& ids = step_ids[size_t(i)];
        if (int64_t(ids.size()) != comps.labels.count)
          fail("events: step {} has {} components now but {} in pass 1", i, comps.labels.count, ids.size());
        for (size_t k = 0; k < plane.size(); ++k) {
          const int32_t c = comps.labels.labels[k];
          plane[k] = c > 0 && linker.kept(ids[size_t(c - 1)]) ? float(ids[size_t(c - 1)]) : 0.0f;
        }
        w.write_time(i, labels.steps()[size_t(i)].time_value);
        w.write("event_id", i, plane);
      }
      w.close();
      written.push_back("event_ids.nc");
    }
    finish_outputs(cfg, linker, std::move(js), std::move(written), outputs, report);
  }
  world.barrier();
  report.seconds = clock.seconds();
  return report;
}

}  // namespace

EventsReport run_events(const EventsConfig& cfg, const Comm& world, const RunOptions& run) {
  Stopwatch clock;
  const analysis::LinkParams link = link_params(cfg);
  const std::vector<uint8_t> classes = as_classes(cfg.classes);
  const analysis::SummaryParams summary_params = summary_params_of(cfg);
  const std::vector<std::string>& class_names = heuristics::class_names();
  const bool peak_min = cfg.peak == Peak::min;
  make_output_folder(cfg.out);
  if (io::ColumnArchive::is_columns(cfg.in)) return run_events_columns(cfg, world, run, link, summary_params);

  // auto: LABELS (label's), else class_mask (predict's).
  const std::string labels_var = cfg.labels_var == "auto" ? class_map_variable(cfg.in, "--labels-var") : cfg.labels_var;
  io::ArchiveOptions lo;
  lo.labels = labels_var;
  lo.open_files = 2;  // steps are read in order: the file of this step and of the one before
  lo.comm = world;
  // One channel indexes the archive (the class map comes as the labels): the peak field when it
  // lives in the same files, else the class-map variable itself, so nothing else is read.
  lo.channels = {io::ChannelSpec::parse(!cfg.field.empty() && cfg.field_in.empty() ? cfg.field : labels_var)};
  io::Archive labels = io::Archive::open(cfg.in, lo);
  if (!labels.has_labels())
    fail("{}: no class map found (variable {}; name it with --labels-var)", cfg.in.front(), labels_var);
  check_class_map(labels, cfg.labels_var);
  std::unique_ptr<io::Archive> field_archive;
  if (!cfg.field.empty() && !cfg.field_in.empty()) {
    io::ArchiveOptions fo;
    fo.channels = {io::ChannelSpec::parse(cfg.field)};
    fo.open_files = 2;
    fo.comm = world;
    field_archive = std::make_unique<io::Archive>(io::Archive::open({cfg.field_in}, fo));
    if (field_archive->size() != labels.size())
      fail("{}: {} steps, but the class maps have {}", cfg.field_in, field_archive->size(), labels.size());
    if (!field_archive->grid().same_as(labels.grid(), 1e-4))
      fail("{}: grid {} differs from the class maps' {}", cfg.field_in, field_archive->grid().shape_str(),
           labels.grid().shape_str());
  }
  const int64_t S = labels.size();
  const geo::Grid& grid = labels.grid();
  // What made these outputs (they are rewritten on every run; the key records it in each).
  std::vector<std::string> key_files;
  for (const auto& f : labels.files()) key_files.push_back(f.path);
  if (field_archive)
    for (const auto& f : field_archive->files()) key_files.push_back(f.path);
  const std::string run_key =
      io::make_run_key("events", alias_values(cfg.to_json(), EventsConfig::cli_aliases(), {"in", "out", "field_in"}),
                       key_files)
          .text();
  const std::vector<double> days = sample_days(labels, cfg.step_hours);
  log::info("events: {} steps on a {} grid, {} rank(s)", S, grid.shape_str(), world.size());

  // Pass 1, in rounds: every rank describes `chunk` steps (with the step before its first, for the
  // overlaps), the descriptions go to every rank, and the root links them in time order.
  analysis::EventLinker linker(link);
  analysis::EventSummary summary(summary_params);
  const bool root = world.is_root();
  // Every output appears at the end, together, or (on an error) not at all. The tables are
  // streamed to temporary files as events end (memory does not grow with them).
  OutputGroup outputs;
  std::ofstream events_csv, points_csv;
  if (root) {
    events_csv.open(outputs.add(fs::path(cfg.out) / "events.csv"), std::ios::binary | std::ios::trunc);
    points_csv.open(outputs.add(fs::path(cfg.out) / "event_points.csv"), std::ios::binary | std::ios::trunc);
    if (!events_csv || !points_csv) fail("{}: cannot write the event tables", cfg.out);
    events_csv << analysis::events_csv_header();
    points_csv << analysis::points_csv_header();
  }
  const fs::path ids_tmp = fs::path(cfg.out) / ".event_component_ids.tmp";
  struct RemoveAtExit {
    fs::path path;
    ~RemoveAtExit() {
      std::error_code ec;
      fs::remove(path, ec);
    }
  } ids_scratch{ids_tmp};
  std::ofstream ids_out;
  if (root && cfg.ids) {
    ids_out.open(ids_tmp, std::ios::binary | std::ios::trunc);
    if (!ids_out) fail("{}: cannot write", ids_tmp.string());
  }
  const int64_t per_round = cfg.chunk * world.size();
  Progress progress("events", S, run.progress);
  int64_t described = 0;
  auto flush_finished = [&] {
    for (const auto& e : linker.take_finished()) {
      // Longitudes as the class-map files write them (-180..180 stays -180..180).
      events_csv << analysis::event_csv_row(e, class_names, peak_min, labels.files().front().orientation);
      points_csv << analysis::points_csv_rows(e, class_names, labels.files().front().orientation);
      summary.add(e);
    }
  };
  for (int64_t r0 = 0; r0 < S; r0 += per_round) {
    const int64_t n_round = std::min(per_round, S - r0);
    const io::Block b = io::block_partition(n_round, world.rank(), world.size());
    std::vector<analysis::StepObjects> mine;
    analysis::ClassComponents prev;
    const int64_t from = b.size() == 0 ? r0 + b.end : r0 + b.begin - (r0 + b.begin > 0 ? 1 : 0);
    bool have_prev = false;
    for (int64_t i = from; i < r0 + b.end; ++i) {
      analysis::ClassComponents now = label_step(labels, i, classes);
      if (i >= r0 + b.begin) {
        std::vector<float> field, valid;
        analysis::StatsOptions so;
        so.peak_is_minimum = peak_min;
        if (!cfg.field.empty()) {
          const io::Sample fs_ = field_archive ? field_archive->load(i) : labels.load(i);
          field.assign(fs_.data.data(), fs_.data.data() + grid.size());
          so.field = field;
          if (fs_.valid.numel() > 0) {
            valid.assign(fs_.valid.data(), fs_.valid.data() + grid.size());
            so.valid = valid;
          }
        }
        mine.push_back(analysis::describe_step(grid, now, have_prev ? &prev : nullptr, i, days[size_t(i)],
                                               sample_iso(labels, i), so));
      }
      prev = std::move(now);
      have_prev = true;
    }
    const auto parts = world.allgather(analysis::serialize_steps(mine));
    progress.advance(b.size());
    release_free_memory();
    if (!root) continue;
    for (const auto& part : parts)
      for (const auto& step : analysis::deserialize_steps(part)) {
        const auto ids = linker.add(step);
        if (ids_out.is_open()) {
          const int64_t n = int64_t(ids.size());
          ids_out.write(reinterpret_cast<const char*>(&step.step), sizeof step.step);
          ids_out.write(reinterpret_cast<const char*>(&n), sizeof n);
          ids_out.write(reinterpret_cast<const char*>(ids.data()), std::streamsize(ids.size() * sizeof(int64_t)));
        }
        ++described;
        flush_finished();  // after every step, so the row order does not depend on the ranks
      }
  }
  progress.finish();
  EventsReport report;
  report.steps = S;
  if (root) {
    linker.finish();
    flush_finished();
    if (described != S) fail("events: linked {} of {} steps", described, S);
    for (auto* f : {&events_csv, &points_csv}) {
      f->close();
      if (!*f) fail("{}: could not write the event tables (disk full?)", cfg.out);
    }
    nlohmann::json js = summary_json(summary, linker, link, S, grid);
    js["run_key"] = nlohmann::json::parse(run_key);
    js["config"] = cfg.to_json();
    // The summary names exactly the files of this run; the outputs of an earlier run that this one
    // does not write (an id map before --no-ids, pictures of a class no longer found) are removed
    // with the commit, so nothing beside the summary describes another run.
    std::vector<std::string> written = {"events.csv", "event_points.csv", "events_summary.json"};
    if (write_summary_netcdf(summary, summary_params, run_key, fs::path(cfg.out) / "events_summary.nc", outputs))
      written.push_back("events_summary.nc");
    if (ids_out.is_open()) {
      ids_out.close();
      write_ids(labels, classes, linker, ids_tmp, outputs.add(fs::path(cfg.out) / "event_ids.nc"), run_key,
                run.progress);
      written.push_back("event_ids.nc");
    }
    finish_outputs(cfg, linker, std::move(js), std::move(written), outputs, report);
  }
  world.barrier();
  report.seconds = clock.seconds();
  return report;
}

StepsEvents::StepsEvents(const EventsConfig& cfg, const geo::Grid& grid, const geo::Orientation& file)
    : cfg_(cfg), grid_(grid), file_(file), linker_(link_params(cfg)), summary_(summary_params_of(cfg)) {
  events_csv_ = analysis::events_csv_header();
  points_csv_ = analysis::points_csv_header();
}

const analysis::ComponentLabels& StepsEvents::add(std::span<const float> map, double day, const std::string& iso,
                                                  std::span<const float> field, std::span<const float> valid,
                                                  const std::string& where) {
  if (finished_) fail_usage("events: add after finish");
  const int64_t step = int64_t(ids_.size()), n = grid_.size();
  if (int64_t(map.size()) != n) fail_usage("events: step {} has {} values, the grid {}", step, map.size(), n);
  std::vector<uint8_t> classes(size_t(n), 0);
  for (int64_t k = 0; k < n; ++k) {
    const float v = map[size_t(k)];
    if (std::isfinite(v) && v >= 0 && (v != std::floor(v) || v > 255))
      fail("{}: step {}: the class map holds values such as {:g} are not class ids (integers 0..255)", where, step, v);
    classes[size_t(k)] = v > 0 && v < 256 ? uint8_t(v) : 0;
  }
  now_ = analysis::label_classes(grid_, classes, as_classes(cfg_.classes));
  analysis::StatsOptions so;
  so.peak_is_minimum = cfg_.peak == Peak::min;
  so.field = field;
  so.valid = valid;
  const analysis::StepObjects objects =
      analysis::describe_step(grid_, now_, step > 0 ? &prev_ : nullptr, step, day, iso, so);
  ids_.push_back(linker_.add(objects));
  flush();
  prev_ = std::move(now_);
  return prev_.labels;
}

void StepsEvents::flush() {
  for (const auto& e : linker_.take_finished()) {
    events_csv_ += analysis::event_csv_row(e, heuristics::class_names(), cfg_.peak == Peak::min, file_);
    points_csv_ += analysis::points_csv_rows(e, heuristics::class_names(), file_);
    summary_.add(e);
  }
}

void StepsEvents::finish() {
  if (finished_) return;
  linker_.finish();
  flush();
  finished_ = true;
}

int64_t StepsEvents::event_id(int64_t step, int32_t component) const {
  if (!finished_) fail_usage("events: event_id before finish");
  if (component <= 0) return 0;
  const std::vector<int64_t>& ids = ids_.at(size_t(step));
  const int64_t id = ids.at(size_t(component - 1));
  return linker_.kept(id) ? id : 0;
}

nlohmann::json StepsEvents::summary() const {
  return summary_json(summary_, linker_, link_params(cfg_), int64_t(ids_.size()), grid_);
}

}  // namespace climseg::pipelines
