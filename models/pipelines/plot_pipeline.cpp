// `climseg plot` as a library (see plot_pipeline.hpp).
#include "models/pipelines/plot_pipeline.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "analysis/plot.hpp"
#include "analysis/plot_columns.hpp"
#include "analysis/summary.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "models/heuristics/labels.hpp"
#include "models/pipelines/archive_roles.hpp"
#include "readers/archive.hpp"
#include "readers/column_file.hpp"
#include "readers/partition.hpp"
#include "readers/scrip.hpp"
#include "readers/track_table.hpp"

namespace climseg::pipelines {

namespace fs = std::filesystem;

nlohmann::json PlotConfig::to_json() const {
  return {{"in", in},
          {"var", var},
          {"steps", steps},
          {"out", out},
          {"labels", labels},
          {"labels_var", labels_var},
          {"tracks", tracks},
          {"vmin", vmin ? nlohmann::json(*vmin) : nlohmann::json(nullptr)},
          {"vmax", vmax ? nlohmann::json(*vmax) : nlohmann::json(nullptr)},
          {"units", units},
          {"title", title},
          {"lon0", lon0},
          {"width", width},
          {"coastlines", coastlines},
          {"summary", summary}};
}

PlotConfig PlotConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail_usage("plot config: must be a JSON object");
  PlotConfig c;
  config::Reader r(j, "plot config");
  r.get_list("in", c.in);
  r.get("var", c.var);
  r.get("steps", c.steps);
  r.get("out", c.out);
  r.get("labels", c.labels);
  r.get("labels_var", c.labels_var);
  r.get("tracks", c.tracks);
  for (auto [key, value] : {std::pair<const char*, std::optional<double>*>{"vmin", &c.vmin}, {"vmax", &c.vmax}}) {
    nlohmann::json v;
    r.get_json(key, v);
    if (v.is_number())
      *value = v.get<double>();
    else if (!v.is_null())
      r.fail(key, fmt::format("must be a number (or null: a percentile of the field), got {}", v.dump()));
  }
  r.get("units", c.units);
  r.get("title", c.title);
  r.get("lon0", c.lon0);
  r.get("width", c.width);
  r.get("coastlines", c.coastlines);
  r.get("summary", c.summary);
  r.finish(PlotConfig{}.to_json());
  if (c.out.empty()) r.fail("out", "is required (--out: a .png file or a directory)");
  if (c.summary.empty() && (c.in.empty() || c.var.empty()))
    fail_usage("plot: --in and --var are required (or --summary FILE)");
  if (c.vmin && c.vmax && !(*c.vmin < *c.vmax))
    fail_usage("--vmin {:g} --vmax {:g}: the colour bar needs --vmin below --vmax", *c.vmin, *c.vmax);
  return c;
}

const std::vector<config::Alias>& PlotConfig::cli_aliases() {
  using K = config::Alias::Kind;
  static const std::vector<config::Alias> a = {
      {"--in", "in", "Files, directories, globs or @list files of the archive to draw from", K::list},
      {"--var", "var", "The field to draw (a channel spec: TMQ, IVT, U@850, ...)"},
      {"--steps", "steps", "Samples to draw: N, A:B (B excluded) or 'all'"},
      {"--out", "out",
       "A .png file (several steps: NAME_0001.png, NAME_0002.png, ... beside it) or a directory "
       "(created; VAR_TIME.png per step)"},
      {"--labels", "labels",
       "Archive of class maps to outline (LABELS or class_mask, e.g. from climseg label or predict);\n"
       "'auto' uses LABELS in the input files themselves"},
      {"--labels-var", "labels_var", "Class-map variable of --labels files: auto (LABELS, else class_mask), or a name"},
      {"--tracks", "tracks",
       "tc_tracks.csv from climseg label, or event_points.csv from climseg events: the tracks\n"
       "(event centroid paths) alive at the drawn step, up to it, labelled with their ids at genesis"},
      {"--vmin", "vmin", "Colour-bar minimum (default: 1st percentile)"},
      {"--vmax", "vmax", "Colour-bar maximum (default: 99th percentile)"},
      {"--units", "units", "Colour-bar label (default: the variable's units)"},
      {"--title", "title", "Title (default: variable and time)"},
      {"--lon0", "lon0", "Longitude at the left of global maps"},
      {"--width", "width", "Map width in pixels (default: about 2 per grid cell)"},
      {"--no-coastlines", "coastlines", "Leave out GSHHG coastlines", K::flag_off},
      {"--summary", "summary", "events_summary.json from climseg events: draw its histograms and genesis maps"},
  };
  return a;
}

namespace {

int64_t parse_step(const std::string& s) {
  try {
    size_t used = 0;
    const int64_t v = std::stoll(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail_usage("--steps: '{}' is not a step number", s);
}

PlotReport plot_summary(const PlotConfig& cfg, const Comm& world) {
  PlotReport report;
  if (!world.is_root()) return report;
  const nlohmann::json j = [&] {
    try {
      return nlohmann::json::parse(read_file(cfg.summary));
    } catch (const nlohmann::json::exception& e) {
      fail("{}: not a JSON summary from climseg events ({})", cfg.summary, e.what());
    }
  }();
  make_output_folder(cfg.out);
  report.pictures = int64_t(analysis::write_summary_pictures(j, cfg.out));
  return report;
}

// The tracks alive at step i, drawn up to it (events in their class's colour).
std::vector<plot::Track> tracks_at(const std::vector<io::TrackPoint>& tracks, int64_t i) {
  const auto& table = heuristics::class_table();
  std::map<int64_t, plot::Track> by_id;
  std::set<int64_t> alive;
  for (const auto& r : tracks)
    if (r.step == i) alive.insert(r.id);
  for (const auto& r : tracks)
    if (alive.count(r.id) && r.step <= i) {
      plot::Track& t = by_id[r.id];
      if (t.points.empty()) {
        t.label = std::to_string(r.id);
        if (r.cls > 0) {  // an event: its class's outline colour
          t.colour = plot::class_colour(r.cls);
          t.kind = size_t(r.cls) < table.size() ? table[size_t(r.cls)].event : fmt::format("class {} event", r.cls);
        }
      }
      t.points.push_back({r.lat, r.lon});
    }
  std::vector<plot::Track> drawn;
  for (auto& [id, t] : by_id) drawn.push_back(std::move(t));
  return drawn;
}

// The steps to draw and where each map goes: a .png name makes NAME.png for one step and
// NAME_0001.png, ... (counted from 1) for several; any other name is a directory of VAR_TIME.png.
struct Steps {
  int64_t first = 0, last = 1;
  bool many = false, png = false;
  fs::path path(const PlotConfig& cfg, const std::string& var, const std::string& time_iso, int64_t i) const {
    if (png && !many) return fs::path(cfg.out);
    if (png)
      return fs::path(cfg.out).parent_path() /
             fmt::format("{}_{:04d}.png", fs::path(cfg.out).stem().string(), i - first + 1);
    return fs::path(cfg.out) / fmt::format("{}_{}.png", var, time_iso.empty() ? fmt::format("{:06d}", i) : time_iso);
  }
};

Steps step_range(const PlotConfig& cfg, int64_t size) {
  Steps st;
  if (cfg.steps == "all") {
    st.last = size;
  } else if (auto colon = cfg.steps.find(':'); colon != std::string::npos) {
    st.first = parse_step(cfg.steps.substr(0, colon));
    st.last = parse_step(cfg.steps.substr(colon + 1));
  } else {
    st.first = parse_step(cfg.steps);
    st.last = st.first + 1;
  }
  if (st.first < 0 || st.last > size || st.first >= st.last)
    fail_usage("--steps {}: the archive has samples 0..{}", cfg.steps, size - 1);
  st.many = st.last - st.first > 1;
  st.png = fs::path(cfg.out).extension() == ".png" && !fs::is_directory(cfg.out);
  if (!st.png && !st.many && !fs::is_directory(cfg.out))
    fail_usage("--out {}: give a .png file (or a directory)", cfg.out);
  if (!st.png) make_output_folder(cfg.out);
  return st;
}

plot::MapSpec map_spec(const PlotConfig& cfg, const std::string& var, const std::string& time_iso, int64_t i,
                       const std::string& subtitle, const std::string& units) {
  plot::MapSpec spec;
  spec.title = cfg.title.empty() ? fmt::format("{}  {}", var, time_iso.empty() ? fmt::format("step {}", i) : time_iso)
                                 : cfg.title;
  spec.subtitle = subtitle;
  spec.units = cfg.units.empty() ? units : cfg.units;
  if (cfg.vmin) spec.vmin = *cfg.vmin;
  if (cfg.vmax) spec.vmax = *cfg.vmax;
  spec.lon0 = cfg.lon0;
  spec.map_width = cfg.width;
  spec.coastlines = cfg.coastlines;
  for (const auto& c : heuristics::class_table()) spec.class_names.push_back(c.title);
  return spec;
}

// Unstructured columns (CAM-SE ncol, SCRIP, UGRID): each map is coloured from the columns'
// Delaunay triangles (the field linear in each) on a 0.5° raster, class outlines from the nearest
// column; the grid is built on the root and broadcast.
PlotReport plot_columns(const PlotConfig& cfg, const Comm& world, const RunOptions& run) {
  if (cfg.var.find_first_of("@[=") != std::string::npos)
    fail_usage("--var {}: on unstructured columns a variable name (no levels or files)", cfg.var);
  const io::ColumnArchive a = io::ColumnArchive::open(cfg.in, {cfg.var});
  std::unique_ptr<io::ColumnArchive> lab;
  std::string lab_var;
  if (!cfg.labels.empty()) {
    const std::vector<std::string> src = cfg.labels == "auto" ? cfg.in : std::vector<std::string>{cfg.labels};
    lab_var = cfg.labels_var == "auto" ? class_map_variable(src, "--labels-var") : cfg.labels_var;
    lab = std::make_unique<io::ColumnArchive>(io::ColumnArchive::open(src, {lab_var}));
    if (lab->size() != a.size() || lab->layout().columns != a.layout().columns)
      fail("{}: the label archive has {} steps of {} columns but {} has {} of {}", src.front(), lab->size(),
           lab->layout().columns, cfg.in.front(), a.size(), a.layout().columns);
  }
  std::vector<io::TrackPoint> tracks;
  if (!cfg.tracks.empty()) tracks = io::read_track_table(cfg.tracks);
  const Steps st = step_range(cfg, a.size());
  geo::UnstructuredGrid grid;
  if (world.is_root()) grid = io::read_unstructured_grid(a.files().front());
  grid.broadcast(world);
  const plot::ColumnMap map(grid);
  PlotReport report;
  const io::Block block = io::block_partition(st.last - st.first, world.rank(), world.size());
  Progress progress("plot", block.size(), run.progress);
  for (int64_t i = st.first + block.begin; i < st.first + block.end; ++i) {
    const std::vector<float> f = a.read(cfg.var, i);
    const std::vector<float> cls = lab ? lab->read(lab_var, i) : std::vector<float>{};
    const std::string iso = a.iso(i);
    const std::string file = fs::path(a.steps()[size_t(i)].file).filename().string();
    const plot::MapSpec spec =
        map_spec(cfg, cfg.var, iso, i, fmt::format("{}  ({}, {} columns)", file, grid.description, grid.size()),
                 a.channel_units().empty() ? "" : a.channel_units()[0]);
    const plot::Image img = map.render(f, cls, tracks_at(tracks, i), spec);
    const fs::path path = st.path(cfg, cfg.var, iso, i);
    img.write_png(path);
    report.written.push_back(path.string());
    progress.advance();
  }
  progress.finish();
  world.barrier();
  report.pictures = st.last - st.first;
  return report;
}

}  // namespace

PlotReport run_plot(const PlotConfig& cfg, const Comm& world, const RunOptions& run) {
  if (!cfg.summary.empty()) return plot_summary(cfg, world);
  if (io::ColumnArchive::is_columns(cfg.in)) return plot_columns(cfg, world, run);
  io::ArchiveOptions o;
  o.channels = {io::ChannelSpec::parse(cfg.var)};
  if (cfg.labels == "auto") o.labels = cfg.labels_var;
  o.comm = world;
  io::Archive a = io::Archive::open(cfg.in, o);
  std::unique_ptr<io::Archive> lab;
  if (!cfg.labels.empty() && cfg.labels != "auto") {
    io::ArchiveOptions lo;
    // auto: LABELS (label's), else class_mask (predict's).
    const std::string labels_var =
        cfg.labels_var == "auto" ? class_map_variable({cfg.labels}, "--labels-var") : cfg.labels_var;
    lo.labels = labels_var;
    // The class map itself indexes the archive (nothing else is read).
    lo.channels = {io::ChannelSpec::parse(labels_var)};
    lo.comm = world;
    lab = std::make_unique<io::Archive>(io::Archive::open({cfg.labels}, lo));
    if (lab->size() != a.size())
      fail("{}: the label archive has {} steps but {} has {}", cfg.labels, lab->size(), cfg.in.front(), a.size());
    if (!lab->grid().same_as(a.grid(), 1e-4))
      fail("{}: the label grid {} differs from the field's {}", cfg.labels, lab->grid().shape_str(),
           a.grid().shape_str());
  }
  std::vector<io::TrackPoint> tracks;
  if (!cfg.tracks.empty()) tracks = io::read_track_table(cfg.tracks);

  const Steps st = step_range(cfg, a.size());
  const int64_t first = st.first, last = st.last;
  auto map_path = [&](const io::Sample& s, int64_t i) { return st.path(cfg, s.channels[0], s.time_iso, i); };

  PlotReport report;
  const io::Block block = io::block_partition(last - first, world.rank(), world.size());
  Progress progress("plot", block.size(), run.progress);
  for (int64_t i = first + block.begin; i < first + block.end; ++i) {
    const io::Sample s = a.load(i);
    const int64_t n = s.grid.size();
    std::vector<uint8_t> classes;
    const Tensor* lt = nullptr;
    io::Sample ls;
    if (lab) {
      ls = lab->load(i);
      lt = &ls.labels;
    } else if (cfg.labels == "auto") {
      lt = &s.labels;
    }
    if (lt != nullptr && lt->numel() == n) {
      classes.resize(size_t(n));
      for (int64_t k = 0; k < n; ++k) classes[size_t(k)] = (*lt)[k] > 0 ? uint8_t((*lt)[k]) : 0;
    }
    const std::vector<plot::Track> drawn = tracks_at(tracks, i);

    const plot::MapSpec spec =
        map_spec(cfg, s.channels[0], s.time_iso, i, fs::path(s.file).filename().string(), s.units[0]);
    const plot::Image img = plot::render_map(
        s.grid, {s.data.data(), size_t(n)},
        s.valid.numel() > 0 ? std::span<const float>(s.valid.data(), size_t(n)) : std::span<const float>{}, classes,
        drawn, spec);
    const fs::path path = map_path(s, i);
    img.write_png(path);
    report.written.push_back(path.string());
    log::debug("wrote {}", path.string());
    progress.advance();
  }
  progress.finish();
  world.barrier();
  report.pictures = last - first;
  return report;
}

}  // namespace climseg::pipelines
