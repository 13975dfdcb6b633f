// `climseg plot`: PNG maps of a field at chosen time steps, with class outlines from a label archive
// and cyclone tracks; or the histograms and genesis maps of a `climseg events` summary.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "analysis/plot.hpp"
#include "analysis/summary.hpp"
#include "apps/archive_roles.hpp"
#include "apps/command.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/progress.hpp"
#include "readers/archive.hpp"
#include "readers/partition.hpp"

namespace climseg::app {
namespace {

namespace fs = std::filesystem;

struct TrackRow {
  int64_t id = 0, step = 0;
  double lat = 0, lon = 0;
  int cls = 0;  // event_points.csv: the event's class; tc_tracks.csv: 0
};

// Reads the columns track_id, step, lat, lon of a tc_tracks.csv from climseg label, or event_id,
// class, step, lat, lon of an event_points.csv from climseg events (by header name).
std::vector<TrackRow> read_tracks(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string line;
  if (!std::getline(in, line)) fail("{}: empty track table", path);
  std::vector<std::string> head;
  {
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) head.push_back(cell);
  }
  auto find = [&](const char* name) {
    for (size_t k = 0; k < head.size(); ++k)
      if (head[k] == name) return k;
    return head.size();
  };
  const bool events = find("event_id") < head.size();
  auto col = [&](const char* name) {
    const size_t k = find(name);
    if (k == head.size())
      fail(
          "{}: no column '{}' in the header (is it a tc_tracks.csv from climseg label or an event_points.csv from "
          "climseg events?)",
          path, name);
    return k;
  };
  const size_t ci = col(events ? "event_id" : "track_id"), cs = col("step"), cy = col("lat"), cx = col("lon");
  const size_t cc = events ? col("class") : 0;
  const size_t need = std::max({ci, cs, cy, cx, cc});
  std::vector<TrackRow> rows;
  int64_t n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    // (Empty trailing cells, like an event point without a peak, end the split early.)
    if (cells.size() <= need) fail("{}:{}: expected {} columns, got {}", path, n, head.size(), cells.size());
    try {
      rows.push_back({std::stoll(cells[ci]), std::stoll(cells[cs]), std::stod(cells[cy]), std::stod(cells[cx]),
                      events ? std::stoi(cells[cc]) : 0});
    } catch (const std::exception&) {
      fail("{}:{}: not a number in '{}'", path, n, line);
    }
  }
  return rows;
}

class PlotCommand : public Command {
 public:
  std::string name() const override { return "plot"; }
  std::string summary() const override {
    return "PNG maps of a field with class outlines and tracks; event statistics";
  }
  int order() const override { return 80; }

  void setup(CLI::App& app) override {
    app.add_option("--in", inputs_, "Files, directories, globs or @list files of the archive to draw from");
    app.add_option("--var", var_, "The field to draw (a channel spec: TMQ, IVT, U@850, ...)");
    app.add_option("--steps", steps_, "Samples to draw: N, A:B (B excluded) or 'all'")->capture_default_str();
    app.add_option("--out", out_,
                   "A .png file (several steps: NAME_0001.png, NAME_0002.png, ... beside it) or a directory "
                   "(created; VAR_TIME.png per step)")
        ->required();
    app.add_option("--labels", labels_,
                   "Archive of class maps to outline (LABELS or class_mask, e.g. from climseg label or predict);\n"
                   "'auto' uses LABELS in the input files themselves")
        ->capture_default_str();
    app.add_option("--labels-var", labels_var_,
                   "Class-map variable of --labels files: auto (LABELS, else class_mask), or a name")
        ->capture_default_str();
    app.add_option("--tracks", tracks_,
                   "tc_tracks.csv from climseg label, or event_points.csv from climseg events: the tracks\n"
                   "(event centroid paths) alive at the drawn step, up to it, labelled with their ids at genesis");
    app.add_option("--vmin", vmin_, "Colour-bar minimum (default: 1st percentile)");
    app.add_option("--vmax", vmax_, "Colour-bar maximum (default: 99th percentile)");
    app.add_option("--units", units_, "Colour-bar label (default: the variable's units)");
    app.add_option("--title", title_, "Title (default: variable and time)");
    app.add_option("--lon0", lon0_, "Longitude at the left of global maps")->capture_default_str();
    app.add_option("--width", width_, "Map width in pixels (default: about 2 per grid cell)");
    app.add_flag("--no-coastlines", no_coast_, "Leave out GSHHG coastlines");
    app.add_option("--summary", summary_,
                   "events_summary.json from climseg events: draw its histograms and genesis maps");
    app.footer(
        "Colours: viridis (perceptually uniform), grey where values are missing; outlines: cyclones red,\n"
        "rivers white, waves orange; cyclone tracks red with a dot per step, event tracks in their class's\n"
        "colour, ids at genesis. Coastlines need Debian's gmt-gshhg-low.");
  }

  int run(const GlobalOptions& global) override {
    if (!summary_.empty()) return plot_summary();
    if (inputs_.empty() || var_.empty()) fail_usage("plot: --in and --var are required (or --summary FILE)");
    if (vmin_ && vmax_ && !(*vmin_ < *vmax_))
      fail_usage("--vmin {:g} --vmax {:g}: the colour bar needs --vmin below --vmax", *vmin_, *vmax_);
    Comm world = Comm::world();
    io::ArchiveOptions o;
    o.channels = {io::ChannelSpec::parse(var_)};
    if (labels_ == "auto") o.labels = labels_var_;
    io::Archive a = io::Archive::open(inputs_, o);
    std::unique_ptr<io::Archive> lab;
    if (!labels_.empty() && labels_ != "auto") {
      io::ArchiveOptions lo;
      // auto: LABELS (label's), else class_mask (predict's).
      const std::string labels_var =
          labels_var_ == "auto" ? class_map_variable({labels_}, "--labels-var") : labels_var_;
      lo.labels = labels_var;
      // The class map itself indexes the archive (nothing else is read).
      lo.channels = {io::ChannelSpec::parse(labels_var)};
      lab = std::make_unique<io::Archive>(io::Archive::open({labels_}, lo));
      if (lab->size() != a.size())
        fail("{}: the label archive has {} steps but {} has {}", labels_, lab->size(), inputs_.front(), a.size());
      if (!lab->grid().same_as(a.grid(), 1e-4))
        fail("{}: the label grid {} differs from the field's {}", labels_, lab->grid().shape_str(),
             a.grid().shape_str());
    }
    std::vector<TrackRow> tracks;
    if (!tracks_.empty()) tracks = read_tracks(tracks_);

    // Steps.
    int64_t first = 0, last = 1;
    if (steps_ == "all") {
      last = a.size();
    } else if (auto colon = steps_.find(':'); colon != std::string::npos) {
      first = parse_int(steps_.substr(0, colon));
      last = parse_int(steps_.substr(colon + 1));
    } else {
      first = parse_int(steps_);
      last = first + 1;
    }
    if (first < 0 || last > a.size() || first >= last)
      fail_usage("--steps {}: the archive has samples 0..{}", steps_, a.size() - 1);
    // A .png name makes NAME.png for one step and NAME_0001.png, ... (counted from 1) for several;
    // any other name is a directory of VAR_TIME.png.
    const bool many = last - first > 1;
    const bool png = fs::path(out_).extension() == ".png" && !fs::is_directory(out_);
    if (!png && !many && !fs::is_directory(out_)) fail_usage("--out {}: give a .png file (or a directory)", out_);
    if (!png) make_output_folder(out_);
    auto map_path = [&](const io::Sample& s, int64_t i) {
      if (png && !many) return fs::path(out_);
      if (png)
        return fs::path(out_).parent_path() /
               fmt::format("{}_{:04d}.png", fs::path(out_).stem().string(), i - first + 1);
      return fs::path(out_) /
             fmt::format("{}_{}.png", s.channels[0], s.time_iso.empty() ? fmt::format("{:06d}", i) : s.time_iso);
    };

    const io::Block block = io::block_partition(last - first, world.rank(), world.size());
    Progress progress("plot", block.size(), !global.no_progress);
    for (int64_t i = first + block.begin; i < first + block.end; ++i) {
      const io::Sample s = a.load(i);
      const int64_t n = s.grid.size();
      std::vector<uint8_t> classes;
      const Tensor* lt = nullptr;
      io::Sample ls;
      if (lab) {
        ls = lab->load(i);
        lt = &ls.labels;
      } else if (labels_ == "auto") {
        lt = &s.labels;
      }
      if (lt != nullptr && lt->numel() == n) {
        classes.resize(size_t(n));
        for (int64_t k = 0; k < n; ++k) classes[size_t(k)] = (*lt)[k] > 0 ? uint8_t((*lt)[k]) : 0;
      }
      std::vector<plot::Track> drawn;
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
              static const char* names[] = {"", "cyclone event", "river event", "waves event"};
              t.colour = plot::class_colour(r.cls);
              t.kind = r.cls <= 3 ? names[r.cls] : fmt::format("class {} event", r.cls);
            }
          }
          t.points.push_back({r.lat, r.lon});
        }
      for (auto& [id, t] : by_id) drawn.push_back(std::move(t));

      plot::MapSpec spec;
      spec.title = title_.empty() ? fmt::format("{}  {}", s.channels[0],
                                                s.time_iso.empty() ? fmt::format("step {}", i) : s.time_iso)
                                  : title_;
      spec.subtitle = fs::path(s.file).filename().string();
      spec.units = units_.empty() ? s.units[0] : units_;
      if (vmin_) spec.vmin = *vmin_;
      if (vmax_) spec.vmax = *vmax_;
      spec.lon0 = lon0_;
      spec.map_width = width_;
      spec.coastlines = !no_coast_;
      spec.class_names = {"background", "tropical cyclone", "atmospheric river", "extreme waves"};
      const plot::Image img = plot::render_map(
          s.grid, {s.data.data(), size_t(n)},
          s.valid.numel() > 0 ? std::span<const float>(s.valid.data(), size_t(n)) : std::span<const float>{}, classes,
          drawn, spec);
      const fs::path path = map_path(s, i);
      img.write_png(path);
      log::debug("wrote {}", path.string());
      progress.advance();
    }
    progress.finish();
    world.barrier();
    if (world.is_root()) std::cout << fmt::format("drew {} map(s) of {} into {}\n", last - first, var_, out_);
    return 0;
  }

 private:
  static int64_t parse_int(const std::string& s) {
    try {
      size_t used = 0;
      const int64_t v = std::stoll(s, &used);
      if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
    fail_usage("--steps: '{}' is not a step number", s);
  }

  int plot_summary() {
    if (!Comm::world().is_root()) return 0;
    const nlohmann::json j = [&] {
      try {
        return nlohmann::json::parse(read_file(summary_));
      } catch (const nlohmann::json::exception& e) {
        fail("{}: not a JSON summary from climseg events ({})", summary_, e.what());
      }
    }();
    make_output_folder(out_);
    const auto n = analysis::write_summary_pictures(j, out_);
    std::cout << fmt::format("drew {} picture(s) into {}\n", n, out_);
    return 0;
  }

 private:
  std::vector<std::string> inputs_;
  std::string var_, steps_ = "0", out_, labels_, labels_var_ = "auto", tracks_, units_, title_, summary_;
  std::optional<double> vmin_, vmax_;
  double lon0_ = 0.0;
  int width_ = 0;
  bool no_coast_ = false;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(PlotCommand)
}  // namespace climseg::app
