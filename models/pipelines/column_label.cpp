// label_archive on unstructured columns (column_label.hpp): pass 1 finds cyclone candidates on the
// graph on every step (steps split over ranks), gathers them on every rank and stitches tracks; pass
// 2 writes LABELS on the native columns, one file per input file (files split over ranks), each kept
// on a rerun when its run key matches; the root writes the tables and the summary last.
#include "models/pipelines/column_label.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "core/timer.hpp"
#include "geo/sphere.hpp"
#include "models/heuristics/graph_detectors.hpp"
#include "models/heuristics/labels.hpp"
#include "models/heuristics/tc_candidate_wire.hpp"
#include "models/heuristics/tc_tracks.hpp"
#include "readers/column_file.hpp"
#include "readers/partition.hpp"
#include "readers/quantities.hpp"
#include "readers/run_key.hpp"
#include "readers/scrip.hpp"
#include "readers/units.hpp"
#include "readers/write_provenance.hpp"

namespace climseg::pipelines {

namespace fs = std::filesystem;
using heuristics::ArMethod;
using heuristics::TcCandidate;
using Json = nlohmann::json;

namespace column_label_detail {

constexpr const char* kColumnRiversAttr = "climseg_label_rivers_csv";
constexpr const char* kColumnSummaryAttr = "climseg_label_step_counts";

// The roles the graph detectors read (no 3-D fields: IVT is not integrated on columns; no waves).
constexpr Role kColumnRoles[] = {Role::psl,  Role::ubot, Role::vbot,  Role::u850, Role::v850,  Role::t200,
                                 Role::t500, Role::z200, Role::z1000, Role::tmq,  Role::prect, Role::ivt};

bool is_column_role(Role r) {
  return std::find(std::begin(kColumnRoles), std::end(kColumnRoles), r) != std::end(kColumnRoles);
}

// A label file from an earlier run (complete: written atomically) with `steps` steps of LABELS over
// the columns and its summary attributes; appends its rows. False otherwise.
bool read_back_columns(const std::string& path, int64_t steps, std::string& river_rows, std::string& summary_rows) {
  const auto kept = io::read_kept_output(path, "LABELS", 2, {kColumnRiversAttr, kColumnSummaryAttr});
  if (!kept || kept->steps != steps) return false;
  const std::string& summary = kept->attrs.at(kColumnSummaryAttr);
  if (std::count(summary.begin(), summary.end(), '\n') != steps) return false;
  river_rows += kept->attrs.at(kColumnRiversAttr);
  summary_rows += summary;
  return true;
}

}  // namespace column_label_detail

LabelReport label_column_archive(const LabelConfig& cfg, const Comm& comm, bool show_progress) {
  using namespace column_label_detail;
  Stopwatch clock;
  const std::string& input = cfg.inputs.front();
  // What the column path cannot do is refused before any work, naming the option.
  if (cfg.has(Detector::waves))
    fail_usage("--detect waves: lat-lon archives only ({} has unstructured columns; use --detect tc,ar)", input);
  if (!cfg.with_data.empty())
    fail_usage("--with-data {}: lat-lon archives only ({} has unstructured columns)", cfg.with_data, input);
  if (!cfg.ivt_threshold_field.empty())
    fail_usage("--ivt-threshold-field: lat-lon archives only ({} has unstructured columns; give a number or pNN)",
               input);
  if (!cfg.waves_threshold_field.empty())
    fail_usage("--waves-threshold-field: lat-lon archives only ({} has unstructured columns)", input);
  for (const auto& [role, var] : cfg.vars) {
    if (!is_column_role(role))
      fail_usage("--var {}={}: lat-lon archives only ({} has unstructured columns; IVT is read as a field there)",
                 role_name(role), var, input);
    if (var.find_first_of("@[=") != std::string::npos)
      fail_usage("--var {}={}: on unstructured columns a role is a variable name (no levels or files)", role_name(role),
                 var);
  }
  heuristics::DetectConfig dc = cfg.detect;
  heuristics::GraphTcParams gp;
  gp.tc = dc.tc;
  gp.validate();

  const io::ColumnArchive all = io::ColumnArchive::open(cfg.inputs);
  const std::vector<std::string>& have = all.channel_names();
  auto index_of = [&](const std::string& v) { return int64_t(std::find(have.begin(), have.end(), v) - have.begin()); };
  auto present = [&](const std::string& v) { return index_of(v) < int64_t(have.size()); };
  RoleMap roles;
  for (const Role r : kColumnRoles) {
    if (auto it = cfg.vars.find(r); it != cfg.vars.end()) {
      if (it->second.empty()) continue;  // dropped
      if (!present(it->second))
        fail("{}: no field '{}' over the columns (--var {}={})", input, it->second, role_name(r), it->second);
      roles[r] = it->second;
      continue;
    }
    for (const std::string& name : role_defaults(r))
      if (present(name)) {
        roles[r] = name;
        break;
      }
  }
  auto has = [&](Role r) { return roles.count(r) > 0; };
  auto need = [&](Role role, const char* what) {
    if (!has(role))
      fail("{}: the archive has no {} field over the columns (tried {}; name one with --var {}=VARIABLE)", input, what,
           fmt::format("{}", fmt::join(role_defaults(role), ", ")), role_name(role));
  };
  const bool bottom = has(Role::ubot) && has(Role::vbot);
  if (dc.cyclones) {
    need(Role::psl, "sea-level pressure");
    if (!bottom) {
      need(Role::u850, "near-surface or 850 hPa zonal wind");
      need(Role::v850, "near-surface or 850 hPa meridional wind");
    }
    if (dc.tracks.require_warm_core && (!has(Role::t200) || !has(Role::t500)))
      log::warn("no T200/T500: the warm-core test cannot pass (--var t200=... t500=..., or --tc-no-warm-core)");
    if (dc.tracks.require_thickness && (!has(Role::z200) || !has(Role::z1000)))
      log::warn("no Z200/Z1000: the thickness test cannot pass (--var z200=... z1000=..., or --tc-no-thickness)");
  }
  if (dc.rivers) {
    if (dc.ar_method == ArMethod::ivt && !has(Role::ivt))
      fail("{}: --ar-method ivt needs an IVT field over the columns (IVT is not integrated from 3-D fields there)",
           input);
    if (dc.ar_method == ArMethod::automatic) dc.ar_method = has(Role::ivt) ? ArMethod::ivt : ArMethod::tmq;
    if (dc.ar_method == ArMethod::tmq) need(Role::tmq, "TMQ (integrated water vapour)");
  }
  // Thresholds (pNN from a stats file of the columns).
  dc.ivt.threshold = label_threshold_value(cfg.ivt_threshold, cfg.stats, has(Role::ivt) ? roles.at(Role::ivt) : "IVT",
                                           "--ivt-threshold");
  dc.ivt.validate();
  dc.tmq.validate();
  // Units: each role's values converted to what the detectors take (--units overrides the files').
  std::map<Role, io::UnitConversion> conversions;
  for (const auto& [r, var] : roles) {
    const io::Quantity* q = io::quantity_of_role(role_name(r));
    if (q == nullptr || q->units.empty()) continue;
    const auto o = cfg.units.find(var);
    const std::string from = o != cfg.units.end() ? o->second : all.channel_units()[size_t(index_of(var))];
    if (from.empty()) continue;  // as the detectors take it
    conversions[r] = io::unit_conversion(from, q->units, q->bridge, fmt::format("{}: {}", input, var));
  }

  const int64_t S = all.size();
  const int64_t F = int64_t(all.files().size());
  // Output names: <input stem>.labels.nc, numbered when two inputs share a stem; never an input.
  std::vector<std::string> out_paths;
  {
    std::set<std::string> used;
    for (const std::string& f : all.files()) {
      const std::string stem = fs::path(f).stem().string();
      std::string name = stem + ".labels.nc";
      for (int k = 2; used.count(name); ++k) name = fmt::format("{}.{}.labels.nc", stem, k);
      used.insert(name);
      out_paths.push_back((fs::path(cfg.out) / name).string());
      std::error_code ec;
      for (const std::string& g : all.files())
        if (fs::exists(out_paths.back(), ec) && fs::equivalent(out_paths.back(), g, ec))
          fail_usage("{}: an input would be overwritten by an output; choose another --out", out_paths.back());
    }
  }

  geo::UnstructuredGrid grid;
  if (comm.is_root()) grid = io::read_unstructured_grid(all.files().front());
  grid.broadcast(comm);  // built once
  const int64_t N = grid.size();
  log::info("label: {} steps on {} ({} columns), detectors {}, {} rank(s)", S, grid.description, N, cfg.detector_text(),
            comm.size());

  // Times in days from the first step; ISO dates.
  std::vector<double> days(static_cast<size_t>(S));
  std::vector<std::string> iso(static_cast<size_t>(S));
  const bool timed = S > 0 && !all.iso(0).empty();
  if (!timed && S > 1) log::warn("{}: no decodable time axis: steps taken {} h apart", input, cfg.step_hours);
  for (int64_t i = 0; i < S; ++i) {
    days[size_t(i)] = timed ? all.days(i) - all.days(0) : double(i) * cfg.step_hours / 24.0;
    iso[size_t(i)] = timed ? all.iso(i) : fmt::format("step{}", i);
  }
  auto read = [&](Role r, int64_t i) {
    std::vector<float> v = all.read(roles.at(r), i);
    if (auto it = conversions.find(r); it != conversions.end() && !it->second.identity())
      it->second.apply(v.data(), int64_t(v.size()));
    return v;
  };
  auto wind_of = [&](int64_t i) {
    const std::vector<float> u = read(bottom ? Role::ubot : Role::u850, i),
                             v = read(bottom ? Role::vbot : Role::v850, i);
    std::vector<float> w(u.size());
    geo::wind_speed(u, v, w);
    return w;
  };

  // The rerun key's configuration: as on lat-lon, with the roles and thresholds as resolved.
  Json key_config = cfg.key_json();
  Json roles_j = Json::object();
  for (const auto& [r, v] : roles) roles_j[role_name(r)] = v;
  key_config["roles"] = roles_j;
  key_config["ivt_threshold_resolved"] = dc.ivt.threshold;
  key_config["grid"] = grid.description;
  std::vector<std::string> key_files;
  if (!cfg.stats.empty()) key_files.push_back(cfg.stats);

  // Pass 1: candidates on this rank's steps, gathered in rank (step) order, stitched everywhere.
  std::vector<heuristics::TcTrack> tracks;
  std::map<int64_t, std::vector<geo::LatLon>> centres;
  int64_t candidates = 0;
  if (dc.cyclones) {
    const io::Block block = io::block_partition(S, comm.rank(), comm.size());
    Progress progress("label: cyclone candidates", block.size(), show_progress);
    std::vector<TcCandidate> found;
    for (int64_t i = block.begin; i < block.end; ++i) {
      const std::vector<float> psl = read(Role::psl, i), wind = wind_of(i);
      std::vector<float> warm, thick;
      if (has(Role::t200) && has(Role::t500)) {
        warm.resize(size_t(N));
        geo::mean_of_two(read(Role::t200, i), read(Role::t500, i), warm);
      }
      if (has(Role::z200) && has(Role::z1000)) {
        thick.resize(size_t(N));
        geo::difference(read(Role::z200, i), read(Role::z1000, i), thick);
      }
      auto c = heuristics::detect_tc_candidates(grid, {psl, wind, warm, thick}, gp, i, days[size_t(i)]);
      found.insert(found.end(), c.begin(), c.end());
      progress.advance();
    }
    progress.finish();
    std::vector<TcCandidate> gathered;
    for (const auto& bytes : comm.allgather(heuristics::encode_candidates(found))) {
      auto part = heuristics::decode_candidates(bytes);
      gathered.insert(gathered.end(), part.begin(), part.end());
    }
    candidates = int64_t(gathered.size());
    tracks = heuristics::stitch_tracks(std::move(gathered), days, dc.tracks);
    for (const auto& t : tracks)
      for (const auto& p : t.points) centres[p.step].push_back({p.lat, p.lon});
    log::info("label: {} cyclone candidates, {} tracks", candidates, tracks.size());
  }

  // The columns as the first input holds them (its longitude convention: tables follow it).
  const auto [in_lat, in_lon] = io::read_column_positions(all.files().front());
  geo::Orientation orientation;
  orientation.lon_signed = std::any_of(in_lon.begin(), in_lon.end(), [](double x) { return x < 0; });

  io::ColumnFileSpec spec = io::column_spec(grid);
  if (in_lat.size() == spec.lat.size()) {
    spec.lat = in_lat;
    spec.lon = in_lon;
  }
  spec.column_dim = all.layout().dimension;
  spec.time_units = all.time_units().empty() ? "days since 0001-01-01 00:00:00" : all.time_units();
  spec.calendar = all.calendar();
  std::vector<double> flags;
  std::string meanings;
  const auto& names = heuristics::class_names();
  for (size_t k = 0; k < names.size(); ++k) {
    flags.push_back(double(k));
    meanings += (k ? " " : "") + names[k];
  }
  spec.variables.push_back(
      {"LABELS",
       NC_BYTE,
       true,
       {io::Attr::str("long_name", "heuristic labels (climseg label)"), io::Attr::str("units", "1"),
        io::Attr::num("flag_values", NC_BYTE, flags), io::Attr::str("flag_meanings", meanings),
        io::Attr::str("coordinates", "lat lon"),
        io::Attr::str("comment", "priority where classes overlap: tropical_cyclone > atmospheric_river")},
       std::nullopt});
  const std::vector<io::Attr> common_attrs = {io::Attr::str("title", "climseg heuristic labels"),
                                              io::Attr::str("detectors", cfg.detector_text()),
                                              io::Attr::str("source_grid", grid.description)};

  // Pass 2: LABELS per input file, files split over ranks. The tables and summary of an earlier run
  // go first (they describe files that may change now); this run's appear once every file is done.
  if (comm.is_root())
    for (const char* table : {"tc_tracks.csv", "rivers.csv", "label_summary.json"}) {
      std::error_code ec;
      fs::remove(fs::path(cfg.out) / table, ec);
    }
  comm.barrier();
  const io::Block mine = io::block_partition(F, comm.rank(), comm.size());
  std::vector<std::vector<int64_t>> steps_of(static_cast<size_t>(F));
  for (int64_t i = 0; i < S; ++i) {
    const std::string& file = all.steps()[size_t(i)].file;
    steps_of[size_t(std::find(all.files().begin(), all.files().end(), file) - all.files().begin())].push_back(i);
  }
  int64_t my_steps = 0;
  for (int64_t f = mine.begin; f < mine.end; ++f) my_steps += int64_t(steps_of[size_t(f)].size());
  Progress progress("label: masks", my_steps, show_progress);
  std::string river_rows, summary_rows;
  int64_t skipped = 0;
  for (int64_t f = mine.begin; f < mine.end; ++f) {
    const std::vector<int64_t>& steps = steps_of[size_t(f)];
    const std::string& path = out_paths[size_t(f)];
    Json config = key_config;
    std::string centre_text;
    for (size_t t = 0; t < steps.size(); ++t)
      if (auto it = centres.find(steps[t]); it != centres.end())
        for (const auto& c : it->second) centre_text += fmt::format("{} {:.17g} {:.17g}\n", t, c.lat, c.lon);
    config["cyclone_centres_sha256"] = io::sha256_hex(centre_text.data(), centre_text.size());
    std::vector<std::string> files = {all.files()[size_t(f)]};
    files.insert(files.end(), key_files.begin(), key_files.end());
    const io::RunKey key = io::make_run_key("label", std::move(config), files);
    if (io::keep_existing(path, key, cfg.rerun) &&
        read_back_columns(path, int64_t(steps.size()), river_rows, summary_rows)) {
      ++skipped;
      progress.advance(int64_t(steps.size()), "kept " + fs::path(path).filename().string());
      continue;
    }
    std::vector<std::vector<float>> labels;
    std::string my_rivers, my_summary;
    for (const int64_t i : steps) {
      std::vector<uint8_t> cyclone, river;
      if (dc.cyclones) {
        cyclone.assign(size_t(N), 0);
        if (auto it = centres.find(i); it != centres.end()) {
          const std::vector<float> tmq = has(Role::tmq) ? read(Role::tmq, i) : std::vector<float>{};
          const std::vector<float> pr = has(Role::prect) ? read(Role::prect, i) : std::vector<float>{};
          heuristics::tc_mask(grid, {tmq, wind_of(i), pr}, it->second, dc.tc_mask, cyclone, 1);
        }
      }
      int64_t kept = 0;
      if (dc.rivers) {
        const heuristics::ArResult ar = dc.ar_method == ArMethod::ivt
                                            ? heuristics::detect_ar_ivt(grid, read(Role::ivt, i), dc.ivt)
                                            : heuristics::detect_ar_tmq(grid, read(Role::tmq, i), dc.tmq);
        river = ar.mask;
        for (const auto& o : ar.objects) {
          if (!o.kept) continue;
          ++kept;
          my_rivers +=
              fmt::format("{},{},{},{:.0f},{:.0f},{:.0f},{:.3f},{:.3f},{:.1f}\n", i, iso[size_t(i)], o.stats.id,
                          o.stats.area_km2, o.stats.length_km, o.stats.width_km, o.stats.centroid_lat,
                          orientation.file_longitude(o.stats.centroid_lon), o.stats.peak_value);
        }
      }
      const std::vector<uint8_t> classes = heuristics::merge_classes(size_t(N), cyclone, river, {});
      int64_t count[4] = {0, 0, 0, 0};
      for (uint8_t v : classes) ++count[v & 3];
      my_summary += fmt::format("{} {} {} {}\n", count[1], count[2], count[3], kept);
      labels.emplace_back(classes.begin(), classes.end());
      progress.advance();
    }
    spec.global_attrs = common_attrs;
    spec.global_attrs.push_back(io::Attr::str(io::kRunKeyAttr, key.text()));
    spec.global_attrs.push_back(io::Attr::str(kColumnRiversAttr, my_rivers));
    spec.global_attrs.push_back(io::Attr::str(kColumnSummaryAttr, my_summary));
    io::ColumnWriter writer(path, spec);
    for (size_t t = 0; t < steps.size(); ++t) {
      writer.write_time(int64_t(t), all.steps()[size_t(steps[t])].time_value);
      writer.write("LABELS", int64_t(t), labels[t]);
    }
    writer.close();
    river_rows += my_rivers;
    summary_rows += my_summary;
    log::debug("wrote {}", path);
  }
  progress.finish();
  skipped = comm.sum(skipped);
  if (skipped > 0)
    log::info("label: kept {} label file(s) made from the same inputs and options (--overwrite redoes them)", skipped);

  LabelReport report;
  const auto rivers = comm.allgather(river_rows);
  const auto sums = comm.allgather(summary_rows);
  report.samples = S;
  report.grid = fmt::format("{} columns ({})", N, grid.description);
  report.roles = roles;
  report.ar_method = dc.ar_method;
  report.ivt_threshold = dc.ivt.threshold;
  report.waves_threshold = 0;
  report.cyclone_candidates = candidates;
  report.cyclone_tracks = int64_t(tracks.size());
  report.kept_files = skipped;
  report.run_options = key_config;
  add_class_counts(report, sums);
  report.seconds = clock.seconds();
  if (comm.is_root()) {
    if (dc.cyclones) {
      std::ostringstream csv;
      heuristics::write_tracks_csv(csv, tracks, iso, orientation);
      write_file_atomically(fs::path(cfg.out) / "tc_tracks.csv", csv.str());
    }
    std::string csv = "step,time,river,area_km2,length_km,width_km,centroid_lat,centroid_lon,peak\n";
    for (const auto& r : rivers) csv += r;
    if (dc.rivers) write_file_atomically(fs::path(cfg.out) / "rivers.csv", csv);
    write_file_atomically(fs::path(cfg.out) / "label_summary.json", report.to_json(cfg).dump(2) + "\n");
  }
  comm.barrier();
  return report;
}

}  // namespace climseg::pipelines
