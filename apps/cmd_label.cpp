// `climseg label`: physics-heuristic labels for an archive (cyclones, rivers, waves) in ClimateNet's
// layout, plus the cyclone track table; MPI-parallel over time steps and files.
#include <fmt/format.h>
#include <netcdf.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "apps/archive_roles.hpp"
#include "apps/command.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/progress.hpp"
#include "core/timer.hpp"
#include "geo/column.hpp"
#include "models/heuristics/labels.hpp"
#include "models/heuristics/pipeline.hpp"
#include "readers/archive.hpp"
#include "readers/hdf5_lock.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"
#include "readers/run_key.hpp"
#include "readers/stats.hpp"
#include "readers/writer.hpp"

namespace climseg::app {
namespace {

namespace fs = std::filesystem;
using heuristics::TcCandidate;

// Candidates as text lines, so ranks can gather them with allgather.
std::string candidates_to_text(const std::vector<TcCandidate>& cs) {
  std::string out;
  for (const auto& c : cs)
    out += fmt::format(
        "{} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {} {:.17g} {} {:.17g}\n", c.step,
        c.time_days, c.lat, c.lon, c.psl_min, c.pressure_delta, c.wind_max, c.vorticity, c.vort_lat, c.vort_lon,
        c.warm_core ? 1 : 0, c.warm_core_delta, c.thickness ? 1 : 0, c.thickness_delta);
  return out;
}

std::vector<TcCandidate> candidates_from_text(const std::string& text) {
  std::vector<TcCandidate> out;
  std::istringstream in(text);
  TcCandidate c;
  int warm = 0, thick = 0;
  while (in >> c.step >> c.time_days >> c.lat >> c.lon >> c.psl_min >> c.pressure_delta >> c.wind_max >> c.vorticity >>
         c.vort_lat >> c.vort_lon >> warm >> c.warm_core_delta >> thick >> c.thickness_delta) {
    c.warm_core = warm != 0;
    c.thickness = thick != 0;
    out.push_back(c);
  }
  return out;
}

// A threshold given as "NUMBER" or "pPCT" (the PCT-th percentile of `channel` in a stats file).
double threshold_value(const std::string& text, const std::string& stats_path, const std::string& channel,
                       const char* option) {
  if (text.empty()) fail_usage("{}: empty value", option);
  if (text[0] == 'p' || text[0] == 'P') {
    if (stats_path.empty()) fail_usage("{} {}: a percentile needs --stats FILE (from climseg stats)", option, text);
    double p = 0;
    try {
      p = std::stod(text.substr(1));
    } catch (...) {
      fail_usage("{} {}: expected pNUMBER, e.g. p95", option, text);
    }
    const io::ChannelStats st = io::load_stats(stats_path);
    for (const auto& c : st.channels) {
      if (c.name != channel) continue;
      for (const auto& [pct, value] : c.percentiles)
        if (std::abs(pct - p) < 1e-9) return value;
      fail_usage("{}: {} has no {}th percentile of {} (run climseg stats --percentiles {})", option, stats_path, p,
                 channel, p);
    }
    fail_usage("{}: {} has no channel {}", option, stats_path, channel);
  }
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    fail_usage("{} {}: expected a number or pPERCENTILE", option, text);
  }
}

class LabelCommand : public Command {
 public:
  std::string name() const override { return "label"; }
  std::string summary() const override {
    return "Label cyclones, rivers and extreme waves with physics heuristics (TECA/GFDL, Kurth et al.)";
  }
  int order() const override { return 40; }

  void setup(CLI::App& app) override {
    app_ = &app;
    app.add_option("--in", inputs_, "Files, directories, globs or @list files of the archive")->required();
    app.add_option("--out", out_, "Output directory (created if missing)")->required();
    app.add_option("--detect", detect_, "Detectors, comma-separated: tc, ar, waves")->capture_default_str();
    app.add_option("--var", vars_,
                   "ROLE=VARIABLE, repeatable: which variable plays a role (u850, v850, psl, ubot, vbot, t200, t500,\n"
                   "z200, z1000, tmq, prect, ivt, hs, q3d, u3d, v3d); ROLE= drops it. Defaults: CAM5 names, then\n"
                   "CMIP/ERA5 names (docs/detectors.md)");
    app.add_option("--units", units_,
                   "VAR=UNITS, repeatable: the units of a variable whose units attribute is missing or wrong (each "
                   "role's values are converted to the units its detector takes, docs/detectors.md)");
    app.add_option("--with-data", data_vars_, "Also write these channels (e.g. TMQ,U850,V850,PSL) beside LABELS");
    auto* overwrite = app.add_flag("--overwrite", overwrite_,
                                   "Redo every label file that exists (by default one is kept when it was made from "
                                   "the same inputs with the same options and climseg version, and redone otherwise)");
    app.add_flag("--no-overwrite", no_overwrite_,
                 "Stop, naming the difference, rather than redo a label file made otherwise")
        ->excludes(overwrite);
    app.add_option("--ar-method", ar_method_, "River detector: auto (IVT when present, else TMQ), ivt, tmq")
        ->check(CLI::IsMember({"auto", "ivt", "tmq"}))
        ->capture_default_str();
    app.add_option("--stats", stats_, "Statistics file from climseg stats, for pNN thresholds");
    app.add_option("--step-hours", step_hours_, "Time between samples when the archive has no decodable time")
        ->capture_default_str();
    auto& c = config_;
    // Cyclones (TECA defaults).
    app.add_option("--tc-min-vorticity", c.tc.min_vorticity, "850 hPa vorticity threshold, s-1")->capture_default_str();
    app.add_option("--tc-vorticity-window", c.tc.vorticity_window_deg, "Vorticity local-maximum window, degrees")
        ->capture_default_str();
    app.add_option("--tc-core-radius", c.tc.max_core_radius_deg, "SLP minimum / warm core search radius, degrees")
        ->capture_default_str();
    app.add_option("--tc-pressure-delta", c.tc.min_pressure_delta_pa, "SLP rise required, Pa")->capture_default_str();
    app.add_option("--tc-pressure-radius", c.tc.pressure_delta_radius_deg, "... within, degrees")
        ->capture_default_str();
    app.add_option("--tc-warm-core-delta", c.tc.min_core_temp_delta_k, "Warm-core temperature fall required, K")
        ->capture_default_str();
    app.add_option("--tc-warm-core-radius", c.tc.core_temp_radius_deg, "... within, degrees")->capture_default_str();
    app.add_option("--tc-thickness-delta", c.tc.min_thickness_delta_m, "Thickness fall required, m")
        ->capture_default_str();
    app.add_option("--tc-thickness-radius", c.tc.thickness_radius_deg, "... within, degrees")->capture_default_str();
    app.add_option("--tc-contour-missing-directions", c.tc.contour_missing_directions,
                   "Closed-contour tests: directions (of 8) that may be left out where they run into missing data "
                   "or off a regional grid (0: TECA)")
        ->capture_default_str();
    app.add_option("--tc-lat-min", c.tc.lat_min, "Southern edge of the search band")->capture_default_str();
    app.add_option("--tc-lat-max", c.tc.lat_max, "Northern edge of the search band")->capture_default_str();
    app.add_option("--max-daily-distance", c.tracks.max_daily_distance_km, "Track stitching reach, km per day")
        ->capture_default_str();
    app.add_option("--max-gap", c.tracks.max_gap_steps,
                   "Steps a track may skip when the next step has no candidate in reach (0: TECA's rule; 1 bridges a "
                   "step of missing data)")
        ->capture_default_str();
    app.add_flag("--tc-no-warm-core", no_warm_core_,
                 "Tracks: storm-wind points need no warm core (extratropical storms; TECA requires it)");
    app.add_flag("--tc-no-thickness", no_thickness_,
                 "Tracks: storm-wind points need no thickness anomaly (extratropical storms; TECA requires it)");
    app.add_option("--min-wind-speed", c.tracks.min_wind_speed, "Storm wind speed, m s-1")->capture_default_str();
    app.add_option("--min-wind-duration", c.tracks.min_wind_duration_days, "Days of storm winds a track needs")
        ->capture_default_str();
    app.add_option("--min-wind-duration-at-edges", c.tracks.min_censored_wind_duration_days,
                   "... for a track cut by the first or last step of the archive (equal to the above: TECA's rule)")
        ->capture_default_str();
    app.add_option("--tc-mask-percentile", c.tc_mask.percentile, "Local percentile of the cyclone mask")
        ->capture_default_str();
    app.add_option("--tc-mask-pad", c.tc_mask.box_pad_deg, "Mask box: storm radius plus this, degrees")
        ->capture_default_str();
    // Rivers.
    app.add_option("--ivt-threshold", ivt_threshold_, "IVT threshold, kg m-1 s-1, or pNN (percentile, with --stats)")
        ->capture_default_str();
    app.add_option("--ivt-threshold-field", ivt_field_, "FILE:VAR, a per-cell IVT threshold on the archive's grid");
    app.add_option("--ar-min-length", c.ivt.min_length_km, "Minimum river length, km")->capture_default_str();
    app.add_option("--ar-min-aspect", c.ivt.min_aspect, "Minimum length / width")->capture_default_str();
    app.add_option("--ar-min-area", c.ivt.min_area_km2, "Minimum river area, km2")->capture_default_str();
    app.add_option("--ar-min-lat", c.ivt.min_abs_centroid_lat, "Rivers centred nearer the equator are dropped, degrees")
        ->capture_default_str();
    app.add_option("--ar-tropics-sigma", c.ivt.tropics_sigma_deg,
                   "IVT method: damp IVT by 1 - exp(-lat^2 / 2 sigma^2) before the threshold, degrees (0: off)")
        ->capture_default_str();
    app.add_option("--tmq-threshold", c.tmq.threshold, "TMQ method: threshold on damped TMQ, kg m-2")
        ->capture_default_str();
    app.add_option("--tmq-sigma", c.tmq.sigma_deg, "TMQ method: Gaussian damping width, degrees")
        ->capture_default_str();
    app.add_option("--tmq-min-length", c.tmq.min_length_km, "TMQ method: minimum extent, km")->capture_default_str();
    app.add_option("--tmq-max-width", c.tmq.max_area_per_length_km, "TMQ method: maximum area / length, km")
        ->capture_default_str();
    // Waves.
    app.add_option("--waves-threshold", waves_threshold_, "Hs threshold, m, or pNN (percentile, with --stats)")
        ->capture_default_str();
    app.add_option(
        "--waves-threshold-field", waves_field_,
        "FILE:VAR, a per-cell Hs threshold on the archive's grid (a local percentile, e.g. from cdo timpctl)");
    app.add_option("--waves-min-area", c.wave.min_area_km2, "Minimum extreme-wave patch, km2")->capture_default_str();
    app.footer(
        "Writes DIR/<input>.labels.nc (LABELS: 0 background, 1 tropical_cyclone, 2 atmospheric_river,\n"
        "3 extreme_waves; a cyclone over a river stays a cyclone), DIR/tc_tracks.csv, DIR/rivers.csv and\n"
        "DIR/label_summary.json. See docs/detectors.md for the criteria. A rerun keeps label files that are\n"
        "complete and redoes the rest (--overwrite redoes all).");
  }

  int run(const GlobalOptions& global) override {
    Comm world = Comm::world();
    Stopwatch clock;
    parse_detect();
    config_.ar_method = ar_method_ == "ivt"   ? heuristics::ArMethod::ivt
                        : ar_method_ == "tmq" ? heuristics::ArMethod::tmq
                                              : heuristics::ArMethod::automatic;
    if (no_warm_core_) config_.tracks.require_warm_core = false;
    if (no_thickness_) config_.tracks.require_thickness = false;
    config_.tc.validate();
    config_.tracks.validate();
    config_.tc_mask.validate();
    if (!(step_hours_ > 0)) fail_usage("--step-hours must be positive");
    const auto overrides = parse_role_overrides(vars_);  // usage errors before any file is opened
    units_override_ = io::parse_units_overrides(units_);
    make_output_folder(out_);

    // Which variables play which role.
    // The probe reads the files' metadata; by default its samples hold every field, which fails
    // when a name is in several files of a time step (u in geocat_Ustorm and geocat_U500storm): a
    // variable named with --var is enough to lay out the samples.
    io::ArchiveOptions probe_options;
    probe_options.units_override = units_override_;
    for (const auto& [role, spec] : overrides)
      if (!spec.empty() && role != "q3d" && role != "u3d" && role != "v3d" && probe_options.channels.empty())
        probe_options.channels.push_back(io::ChannelSpec::parse(spec));
    io::Archive probe = io::Archive::open(inputs_, probe_options);
    std::vector<std::string> wanted;
    if (config_.cyclones) wanted = heuristics::candidate_roles();
    for (const auto& r : heuristics::mask_roles(config_)) wanted.push_back(r);
    if (config_.rivers && config_.ar_method != heuristics::ArMethod::tmq)
      wanted.insert(wanted.end(), {"q3d", "u3d", "v3d"});
    roles_ = resolve_roles(probe.files(), wanted, vars_);
    check_roles();
    const int64_t S = probe.size();
    {
      // Inputs are never overwritten: refuse before any work if an output name is an input.
      std::set<std::string> names;
      for (int64_t i = 0; i < S; ++i) {
        if (i > 0 && probe.info(i).group == probe.info(i - 1).group) continue;
        const fs::path out = output_name(probe.info(i).file, names);
        std::error_code ec;
        for (const auto& f : probe.files())
          if (fs::exists(out, ec) && fs::equivalent(out, f.path, ec))
            fail_usage("{}: an input would be overwritten by an output; choose another --out", out.string());
      }
    }
    log::info("label: {} samples on a {} grid, detectors {}, {} rank(s)", S, probe.grid().shape_str(), detect_,
              world.size());
    for (const auto& [role, spec] : roles_) log::debug("role {} = {}", role, spec);
    thresholds();
    load_threshold_field(ivt_field_, probe.grid(), ivt_threshold_field_, "--ivt-threshold-field");
    load_threshold_field(waves_field_, probe.grid(), waves_threshold_field_, "--waves-threshold-field");
    if (!ivt_threshold_field_.empty()) config_.ivt.threshold_field = ivt_threshold_field_;
    if (!waves_threshold_field_.empty()) config_.wave.threshold_field = waves_threshold_field_;
    const std::vector<double> days = sample_days(probe, step_hours_);
    std::vector<std::string> iso(static_cast<size_t>(S));
    for (int64_t i = 0; i < S; ++i) iso[size_t(i)] = sample_iso(probe, i);

    // What determines every output besides its own inputs and cyclone centres (rerun keys).
    nlohmann::json key_config = option_values(*app_, {"--in", "--out", "--overwrite", "--no-overwrite"});
    key_config["roles"] = roles_;
    key_config["ivt_threshold_resolved"] = config_.ivt.threshold;
    key_config["waves_threshold_resolved"] = config_.wave.threshold_m;
    std::vector<std::string> key_files;  // files besides the archive's that set thresholds
    for (const std::string& f :
         {stats_, ivt_field_.substr(0, ivt_field_.rfind(':')), waves_field_.substr(0, waves_field_.rfind(':'))})
      if (!f.empty()) key_files.push_back(f);
    const io::Rerun rerun = overwrite_      ? io::Rerun::overwrite
                            : no_overwrite_ ? io::Rerun::refuse_different
                                            : io::Rerun::keep_matching;

    // Pass 1: cyclone candidates on every step, gathered and stitched into tracks.
    std::string tracks_csv;
    std::vector<heuristics::TcTrack> tracks;
    std::map<int64_t, std::vector<geo::LatLon>> centres;
    if (config_.cyclones) {
      io::Archive a = open_with(heuristics::candidate_roles(), {});
      const io::Block block = io::block_partition(S, world.rank(), world.size());
      std::vector<int64_t> mine(static_cast<size_t>(block.size()));
      std::iota(mine.begin(), mine.end(), block.begin);
      std::vector<TcCandidate> found;
      Progress progress("label: cyclone candidates", block.size(), !global.no_progress);
      io::Prefetcher loader(a, mine, 2);
      while (auto s = loader.next()) {
        auto f = fields_of(a, *s, heuristics::candidate_roles());
        auto c = heuristics::step_candidates(f.fields, config_, s->index, days[size_t(s->index)]);
        found.insert(found.end(), c.begin(), c.end());
        progress.advance();
      }
      progress.finish();
      std::vector<TcCandidate> all;
      for (const auto& text : world.allgather(candidates_to_text(found))) {
        auto part = candidates_from_text(text);
        all.insert(all.end(), part.begin(), part.end());
      }
      candidates_ = int64_t(all.size());
      tracks = heuristics::stitch_tracks(std::move(all), days, config_.tracks);
      for (const auto& t : tracks)
        for (const auto& p : t.points) centres[p.step].push_back({p.lat, p.lon});
      if (world.is_root()) {
        std::ostringstream csv;
        heuristics::write_tracks_csv(csv, tracks, iso, probe.files().front().orientation);
        tracks_csv = csv.str();  // written with the other tables when every label file is done
      }
      log::info("label: {} cyclone candidates, {} tracks", candidates_, tracks.size());
    }

    // Pass 2: class maps, one output file per input time-step group, groups split over ranks.
    std::vector<std::string> mask = mask_roles();
    if (config_.rivers && config_.ar_method != heuristics::ArMethod::tmq && !roles_.count("ivt"))
      mask.insert(mask.end(), {"q3d", "u3d", "v3d"});
    io::Archive a = open_with(mask, data_vars_);
    std::vector<int64_t> group_first;  // first sample of each group
    for (int64_t i = 0; i < S; ++i)
      if (i == 0 || a.info(i).group != a.info(i - 1).group) group_first.push_back(i);
    group_first.push_back(S);
    const int64_t G = int64_t(group_first.size()) - 1;
    const io::Block gb = io::block_partition(G, world.rank(), world.size());
    std::string river_rows, summary_rows;
    int64_t my_steps = group_first[size_t(gb.end)] - group_first[size_t(gb.begin)];
    Progress progress("label: masks", my_steps, !global.no_progress);
    std::set<std::string> names_used;
    int64_t skipped = 0;
    // The tables and summary of an earlier run go first: they describe the label files beside them,
    // which may change now; this run's appear once every label file is done (a failure leaves none).
    if (world.is_root())
      for (const char* table : {"tc_tracks.csv", "rivers.csv", "label_summary.json"}) {
        std::error_code ec;
        fs::remove(fs::path(out_) / table, ec);
      }
    world.barrier();
    for (int64_t g = 0; g < G; ++g) {
      // Every rank computes every output name, so names are the same whichever rank writes.
      const std::string path = output_name(a.info(group_first[size_t(g)]).file, names_used);
      if (g < gb.begin || g >= gb.end) continue;
      const int64_t first = group_first[size_t(g)], last = group_first[size_t(g) + 1];
      // Its key: the options, the group's files, the cyclone centres of its steps (tracks span the
      // whole archive) and climseg's version.
      nlohmann::json config = key_config;
      std::string centre_text;
      for (int64_t i = first; i < last; ++i)
        if (auto it = centres.find(i); it != centres.end())
          for (const auto& c : it->second) centre_text += fmt::format("{} {:.17g} {:.17g}\n", i - first, c.lat, c.lon);
      config["cyclone_centres_sha256"] = io::sha256_hex(centre_text.data(), centre_text.size());
      std::vector<std::string> files = a.group_files(a.info(first).group);
      files.insert(files.end(), key_files.begin(), key_files.end());
      const io::RunKey key = io::make_run_key("label", std::move(config), files);
      if (io::keep_existing(path, key, rerun) && read_back(path, last - first, river_rows, summary_rows)) {
        ++skipped;
        progress.advance(last - first, "kept " + fs::path(path).filename().string());
        continue;
      }
      write_group(a, first, last, path, key, centres, iso, river_rows, summary_rows, progress);
    }
    progress.finish();
    skipped = world.sum(skipped);
    if (skipped > 0)
      log::info("label: kept {} label file(s) made from the same inputs and options (--overwrite redoes them)",
                skipped);

    // Tables and summary on the root.
    const auto rivers = world.allgather(river_rows);
    const auto sums = world.allgather(summary_rows);
    if (world.is_root()) {
      if (config_.cyclones) write_file_atomically(fs::path(out_) / "tc_tracks.csv", tracks_csv);
      std::string csv = "step,time,river,area_km2,length_km,width_km,centroid_lat,centroid_lon,peak\n";
      for (const auto& r : rivers) csv += r;
      if (config_.rivers) write_file_atomically(fs::path(out_) / "rivers.csv", csv);
      nlohmann::json js;
      js["samples"] = S;
      js["options"] = key_config;  // what made the label files beside it (each carries it in climseg_run_key)
      js["grid"] = a.grid().shape_str();
      js["detectors"] = detect_;
      js["roles"] = roles_;
      js["cyclone_candidates"] = candidates_;
      js["cyclone_tracks"] = tracks.size();
      // The thresholds as resolved (a pNN percentile as its value from the stats file).
      nlohmann::json th;
      if (config_.rivers) {
        th["ar_method"] = config_.ar_method == heuristics::ArMethod::tmq ? "tmq" : "ivt";
        if (config_.ar_method == heuristics::ArMethod::tmq) {
          th["tmq_kg_m-2"] = config_.tmq.threshold;
        } else if (!ivt_field_.empty()) {
          th["ivt_field"] = ivt_field_;
        } else {
          th["ivt_kg_m-1_s-1"] = config_.ivt.threshold;
          th["ivt_given"] = ivt_threshold_;
        }
      }
      if (config_.waves) {
        if (!waves_field_.empty()) {
          th["waves_field"] = waves_field_;
        } else {
          th["waves_hs_m"] = config_.wave.threshold_m;
          th["waves_given"] = waves_threshold_;
        }
      }
      if (config_.cyclones) {
        th["tc_min_vorticity_s-1"] = config_.tc.min_vorticity;
        th["tc_pressure_delta_pa"] = config_.tc.min_pressure_delta_pa;
        th["tracks_require_warm_core"] = config_.tracks.require_warm_core;
        th["tracks_require_thickness"] = config_.tracks.require_thickness;
        th["tracks_max_gap_steps"] = config_.tracks.max_gap_steps;
      }
      js["thresholds"] = th;
      int64_t steps_with[4] = {0, 0, 0, 0}, cells[4] = {0, 0, 0, 0}, river_objects = 0;
      for (const auto& block_text : sums) {
        std::istringstream in(block_text);
        int64_t c1, c2, c3, n_r;
        while (in >> c1 >> c2 >> c3 >> n_r) {
          cells[1] += c1;
          cells[2] += c2;
          cells[3] += c3;
          steps_with[1] += c1 > 0;
          steps_with[2] += c2 > 0;
          steps_with[3] += c3 > 0;
          river_objects += n_r;
        }
      }
      js["river_objects"] = river_objects;
      for (int k = 1; k <= 3; ++k) {
        js["classes"][heuristics::class_names()[size_t(k)]] = {{"cells", cells[k]}, {"steps_with_any", steps_with[k]}};
      }
      js["seconds"] = clock.seconds();
      write_file_atomically(fs::path(out_) / "label_summary.json", js.dump(2) + "\n");
      std::cout << fmt::format(
          "labelled {} samples in {:.1f} s: {} cyclone tracks from {} candidates, {} river objects\n", S,
          clock.seconds(), tracks.size(), candidates_, river_objects);
    }
    return 0;
  }

 private:
  struct Loaded {
    heuristics::StepFields fields;
    std::map<std::string, std::vector<float>> owned;  // IVT computed from 3-D fields
  };

  void parse_detect() {
    config_.cyclones = config_.rivers = config_.waves = false;
    std::stringstream ss(detect_);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item == "tc")
        config_.cyclones = true;
      else if (item == "ar")
        config_.rivers = true;
      else if (item == "waves")
        config_.waves = true;
      else
        fail_usage("--detect: unknown detector '{}' (use tc, ar, waves)", item);
    }
    if (!config_.cyclones && !config_.rivers && !config_.waves) fail_usage("--detect: nothing to detect");
  }

  void check_roles() {
    auto need = [&](const std::string& role, const char* what) {
      if (!roles_.count(role))
        fail("{}: the archive has no {} field (tried {}; name one with --var {}=VARIABLE)", inputs_.front(), what,
             fmt::format("{}", fmt::join(role_defaults().at(role), ", ")), role);
    };
    if (config_.cyclones) {
      need("u850", "850 hPa zonal wind");
      need("v850", "850 hPa meridional wind");
      need("psl", "sea-level pressure");
      if (config_.tracks.require_warm_core && (!roles_.count("t200") || !roles_.count("t500")))
        log::warn(
            "no T200/T500: the warm-core test cannot pass, so no track reaches the wind duration unless "
            "--var t200=... and t500=... are given (or --tc-no-warm-core)");
      if (config_.tracks.require_thickness && (!roles_.count("z200") || !roles_.count("z1000")))
        log::warn(
            "no Z200/Z1000: the thickness test cannot pass (name them with --var z200=... z1000=..., or "
            "--tc-no-thickness)");
      // Kurth et al.'s masks use TMQ, wind and precipitation; without some of them the mask is made
      // from the others (the wind is always there: the candidates need it).
      std::vector<std::string> missing;
      for (const char* r : {"tmq", "prect"})
        if (!roles_.count(r)) missing.push_back(r);
      if (!missing.empty())
        log::warn("no {} field: cyclone masks are made from the fields that are there (wind{})",
                  fmt::format("{}", fmt::join(missing, ", ")),
                  roles_.count("tmq")     ? ", TMQ"
                  : roles_.count("prect") ? ", precipitation"
                                          : " only");
    }
    if (config_.rivers) {
      const bool ivt = roles_.count("ivt") || (roles_.count("q3d") && roles_.count("u3d") && roles_.count("v3d"));
      if (config_.ar_method == heuristics::ArMethod::ivt && !ivt)
        fail("{}: --ar-method ivt needs an IVT field or 3-D Q, U and V on levels", inputs_.front());
      if (config_.ar_method == heuristics::ArMethod::automatic && !ivt && !roles_.count("tmq"))
        fail("{}: the river detector needs IVT (or 3-D Q, U, V) or TMQ", inputs_.front());
      if (config_.ar_method == heuristics::ArMethod::tmq) need("tmq", "TMQ (integrated water vapour)");
      if (config_.ar_method == heuristics::ArMethod::automatic && !ivt) config_.ar_method = heuristics::ArMethod::tmq;
      if (config_.ar_method == heuristics::ArMethod::automatic) config_.ar_method = heuristics::ArMethod::ivt;
    }
    if (config_.waves) need("hs", "significant wave height");
  }

  void thresholds() {
    config_.ivt.threshold = threshold_value(
        ivt_threshold_, stats_, roles_.count("ivt") ? channel_name_of(roles_["ivt"]) : "IVT", "--ivt-threshold");
    config_.wave.threshold_m = threshold_value(
        waves_threshold_, stats_, roles_.count("hs") ? channel_name_of(roles_["hs"]) : "hs", "--waves-threshold");
    config_.ivt.validate();
    config_.tmq.validate();
    config_.wave.validate();
  }

  io::Archive open_with(const std::vector<std::string>& roles, const std::string& extra) {
    io::ArchiveOptions o;
    o.units_override = units_override_;
    std::set<std::string> seen;
    for (const auto& r : roles) {
      auto it = roles_.find(r);
      if (it == roles_.end() || r == "q3d" || r == "u3d" || r == "v3d") continue;
      if (seen.insert(it->second).second) o.channels.push_back(role_spec(r, it->second));
    }
    if (!extra.empty())
      for (const auto& spec : io::parse_channels(extra))
        if (seen.insert(spec.text).second) o.channels.push_back(spec);
    if (o.channels.empty()) {
      // A detector that only needs 3-D fields: read one small channel so the archive has samples.
      if (!roles_.count("q3d")) fail("{}: none of the fields the detectors need is in the archive", inputs_.front());
      o.channels.push_back(io::ChannelSpec::parse(roles_["q3d"] + "@#0"));
    }
    return io::Archive::open(inputs_, o);
  }

  // Role planes of a loaded sample, converted to SI; IVT from 3-D fields when needed.
  Loaded fields_of(const io::Archive& a, const io::Sample& s, const std::vector<std::string>& roles) {
    Loaded l;
    l.fields.grid = &s.grid;
    const int64_t n = s.grid.size();
    for (const auto& r : roles) {
      auto it = roles_.find(r);
      if (it == roles_.end() || r == "q3d" || r == "u3d" || r == "v3d") continue;
      const std::string ch = channel_name_of(it->second);
      const int c = s.channel_index(ch);
      if (c < 0) fail("{}: channel {} missing from the sample", s.file, ch);
      // Already in the role's units: the archive converted them (role_spec).
      l.fields.planes[r] = {s.data.data() + c * n, size_t(n)};
      if (s.valid.numel() > 0) l.fields.valid[r] = {s.valid.data() + c * n, size_t(n)};
    }
    const bool want_ivt = std::find(roles.begin(), roles.end(), "q3d") != roles.end() && !roles_.count("ivt") &&
                          roles_.count("q3d") && roles_.count("u3d") && roles_.count("v3d");
    if (want_ivt) {
      const auto q = a.load_field(s.index, roles_["q3d"], io::quantity_of_role("q3d")->units);
      const auto u = a.load_field(s.index, roles_["u3d"], io::quantity_of_role("u3d")->units);
      const auto v = a.load_field(s.index, roles_["v3d"], io::quantity_of_role("v3d")->units);
      geo::VerticalLevels lv;
      if (q.hybrid()) {
        lv = geo::VerticalLevels::cam_hybrid(q.hyam, q.hybm, q.p0);
      } else if (!q.level_pa.empty()) {
        lv = geo::VerticalLevels::pressure(q.level_pa);
      } else {
        fail("{}: {} has neither pressure levels nor hybrid coefficients: IVT cannot be integrated", q.file, q.var);
      }
      auto& ivt = l.owned["ivt"];
      auto& iu = l.owned["ivt_u"];
      auto& iv = l.owned["ivt_v"];
      ivt.assign(size_t(n), 0.0f);
      iu.assign(size_t(n), 0.0f);
      iv.assign(size_t(n), 0.0f);
      std::vector<float> valid;
      if (q.valid.numel() > 0 || u.valid.numel() > 0 || v.valid.numel() > 0) {
        valid.assign(size_t(q.data.numel()), 1.0f);
        for (const auto* f : {&q, &u, &v})
          if (f->valid.numel() == q.data.numel())
            for (size_t k = 0; k < valid.size(); ++k) valid[k] *= f->valid[int64_t(k)];
      }
      std::span<const float> ps =
          q.ps.numel() > 0 ? std::span<const float>(q.ps.data(), size_t(q.ps.numel())) : std::span<const float>{};
      geo::integrated_vapour_transport(lv, {q.data.data(), size_t(q.data.numel())},
                                       {u.data.data(), size_t(u.data.numel())}, {v.data.data(), size_t(v.data.numel())},
                                       ps, valid, {iu, iv, ivt});
      l.fields.planes["ivt"] = ivt;
    }
    return l;
  }

  std::string output_name(const std::string& input, std::set<std::string>& used) const {
    std::string stem = fs::path(input).stem().string();
    std::string name = stem + ".labels.nc";
    for (int k = 2; used.count(name); ++k) name = fmt::format("{}.{}.labels.nc", stem, k);
    used.insert(name);
    return (fs::path(out_) / name).string();
  }

  void write_group(const io::Archive& a, int64_t first, int64_t last, const std::string& path, const io::RunKey& key,
                   const std::map<int64_t, std::vector<geo::LatLon>>& centres, const std::vector<std::string>& iso,
                   std::string& river_rows, std::string& summary_rows, Progress& progress) {
    const io::SampleInfo info0 = a.info(first);
    const io::FileMeta* meta = nullptr;
    for (const auto& f : a.files())
      if (f.path == info0.file) meta = &f;
    if (meta == nullptr) fail("{}: file metadata not found", info0.file);
    io::OutputSpec spec = io::output_like(*meta);
    spec.provenance.run_key = key.text();
    spec.variables.push_back(io::mask_field("LABELS", heuristics::class_names(), "heuristic labels (climseg label)"));
    spec.variables.back().attrs.push_back(io::Attr::str(
        "comment", "priority where classes overlap: tropical_cyclone > atmospheric_river > extreme_waves"));
    std::vector<std::pair<std::string, int>> data_channels;
    if (!data_vars_.empty())
      for (const auto& cs : io::parse_channels(data_vars_)) {
        const int c = [&] {
          for (size_t k = 0; k < a.channel_names().size(); ++k)
            if (a.channel_names()[k] == cs.name) return int(k);
          return -1;
        }();
        if (c < 0) fail("--with-data: channel {} not in the archive", cs.name);
        data_channels.emplace_back(cs.name, c);
        spec.variables.push_back(io::float_field(cs.name, a.channel_units()[size_t(c)], cs.name));
      }
    spec.global_attrs.push_back(io::Attr::str("title", "climseg heuristic labels"));
    spec.global_attrs.push_back(io::Attr::str("detectors", detect_));
    io::CfWriter writer(path, spec);

    std::vector<int64_t> idx(static_cast<size_t>(last - first));
    std::iota(idx.begin(), idx.end(), first);
    io::Prefetcher loader(a, idx, 2);
    std::vector<float> out(size_t(a.grid().size()));
    std::string my_rivers, my_summary;
    while (auto s = loader.next()) {
      const int64_t i = s->index;
      auto l = fields_of(a, *s, mask_roles().empty() ? std::vector<std::string>{} : all_mask_roles());
      auto it = centres.find(i);
      const auto labels =
          heuristics::step_labels(l.fields, config_, it == centres.end() ? std::vector<geo::LatLon>{} : it->second);
      const int64_t t = writer.append_time(s->time_value);
      for (size_t k = 0; k < out.size(); ++k) out[k] = labels.classes[k];
      writer.write("LABELS", t, out.data());
      for (const auto& [nm, c] : data_channels) writer.write(nm, t, s->data.data() + int64_t(c) * a.grid().size());
      int64_t count[4] = {0, 0, 0, 0}, kept = 0;
      for (uint8_t v : labels.classes) ++count[v & 3];
      for (const auto& o : labels.rivers.objects) {
        if (!o.kept) continue;
        ++kept;
        my_rivers += fmt::format("{},{},{},{:.0f},{:.0f},{:.0f},{:.3f},{:.3f},{:.1f}\n", i, iso[size_t(i)], o.stats.id,
                                 o.stats.area_km2, o.stats.length_km, o.stats.width_km, o.stats.centroid_lat,
                                 meta->orientation.file_longitude(o.stats.centroid_lon), o.stats.peak_value);
      }
      my_summary += fmt::format("{} {} {} {}\n", count[1], count[2], count[3], kept);
      progress.advance();
    }
    // What the tables and summary need from this file, so a rerun that keeps it need not redo it.
    writer.set_global_attr(kRiversAttr, my_rivers);
    writer.set_global_attr(kSummaryAttr, my_summary);
    writer.close();
    river_rows += my_rivers;
    summary_rows += my_summary;
    log::debug("wrote {}", path);
  }

  // A per-cell threshold "FILE:VAR": the first time step of VAR, on the archive's grid.
  static void load_threshold_field(const std::string& spec, const geo::Grid& grid, std::vector<float>& out,
                                   const char* option) {
    if (spec.empty()) return;
    const auto colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
      fail_usage("{} {}: expected FILE:VARIABLE", option, spec);
    io::ArchiveOptions o;
    o.channels = {io::ChannelSpec::parse(spec.substr(colon + 1))};
    io::Archive a = io::Archive::open({spec.substr(0, colon)}, o);
    if (!a.grid().same_as(grid, 1e-4))
      fail("{}: grid {} differs from the archive's {}", spec.substr(0, colon), a.grid().shape_str(), grid.shape_str());
    const io::Sample s = a.load(0);
    out.assign(s.data.data(), s.data.data() + grid.size());
    if (s.valid.numel() > 0)
      for (int64_t k = 0; k < grid.size(); ++k)
        if (s.valid[k] == 0.0f) out[size_t(k)] = std::numeric_limits<float>::infinity();  // never exceeded
  }

  static constexpr const char* kRiversAttr = "climseg_label_rivers_csv";
  static constexpr const char* kSummaryAttr = "climseg_label_step_counts";

  // A label file from an earlier run: complete (atomic writes: it exists, so it was finished) and
  // holding `steps` steps of LABELS with its summary attributes. Appends its rows; false otherwise.
  static bool read_back(const std::string& path, int64_t steps, std::string& river_rows, std::string& summary_rows) {
    io::Hdf5Lock lock(io::hdf5_mutex());
    int nc = -1;
    if (nc_open(path.c_str(), NC_NOWRITE, &nc) != NC_NOERR) return false;
    auto text = [&](const char* name, std::string& out) {
      size_t len = 0;
      nc_type type{};
      if (nc_inq_att(nc, NC_GLOBAL, name, &type, &len) != NC_NOERR || type != NC_CHAR) return false;
      out.assign(len, '\0');
      return len == 0 || nc_get_att_text(nc, NC_GLOBAL, name, out.data()) == NC_NOERR;
    };
    int var = -1, ndims = 0, dims[NC_MAX_VAR_DIMS];
    size_t len = 0;
    std::string rivers, summary;
    const bool ok = nc_inq_varid(nc, "LABELS", &var) == NC_NOERR && nc_inq_varndims(nc, var, &ndims) == NC_NOERR &&
                    ndims == 3 && nc_inq_vardimid(nc, var, dims) == NC_NOERR &&
                    nc_inq_dimlen(nc, dims[0], &len) == NC_NOERR && static_cast<int64_t>(len) == steps &&
                    text(kRiversAttr, rivers) && text(kSummaryAttr, summary) &&
                    std::count(summary.begin(), summary.end(), '\n') == steps;
    nc_close(nc);
    if (!ok) return false;
    river_rows += rivers;
    summary_rows += summary;
    return true;
  }

  // The roles pass 2 reads: the detectors' mask roles, and for cyclone masks without near-surface
  // winds the 850 hPa winds (the wind speed the candidates used).
  std::vector<std::string> mask_roles() const {
    auto r = heuristics::mask_roles(config_);
    if (config_.cyclones && !(roles_.count("ubot") && roles_.count("vbot"))) r.insert(r.end(), {"u850", "v850"});
    return r;
  }

  std::vector<std::string> all_mask_roles() const {
    auto r = mask_roles();
    r.insert(r.end(), {"q3d", "u3d", "v3d"});
    return r;
  }

  std::vector<std::string> inputs_, vars_, units_;
  std::map<std::string, std::string> units_override_;
  std::string out_, detect_ = "tc,ar", data_vars_, ar_method_ = "auto", stats_;
  std::string ivt_threshold_ = "250", waves_threshold_ = "8", ivt_field_, waves_field_;
  std::vector<float> ivt_threshold_field_, waves_threshold_field_;
  double step_hours_ = 6.0;
  heuristics::DetectConfig config_;
  std::map<std::string, std::string> roles_;
  int64_t candidates_ = 0;
  bool overwrite_ = false, no_overwrite_ = false, no_warm_core_ = false, no_thickness_ = false;
  CLI::App* app_ = nullptr;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(LabelCommand)
}  // namespace climseg::app
