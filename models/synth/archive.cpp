// Synthetic archives on disk: CAM5-h2-like files with LABELS, optional 3-D columns and wave files,
// truth CSVs and a manifest. Files are byte-identical for the same parameters.
#include "models/synth/archive.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "geo/cubed_sphere.hpp"
#include "geo/smooth.hpp"
#include "readers/column_file.hpp"
#include "readers/writer.hpp"

namespace climseg::synth {
namespace fs = std::filesystem;

namespace {

bool leap(const SynthConfig& c, int y) {
  return c.calendar == "standard" && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}
int month_days(const SynthConfig& c, int y, int m) {
  static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(c, y) ? 29 : d[m - 1];
}
int year_days(const SynthConfig& c, int y) { return leap(c, y) ? 366 : 365; }

std::string fmt_g(double v) { return fmt::format("{:.6g}", v); }

// Contiguous blocks as TECA splits work: the first n mod p ranks take one more.
std::pair<int64_t, int64_t> block(int64_t n, int rank, int size) {
  const int64_t base = n / size, extra = n % size;
  return {rank * base + std::min<int64_t>(rank, extra), base + (rank < extra ? 1 : 0)};
}

// 8-connected patches of a mask on a periodic-in-longitude grid.
int count_patches(const std::vector<uint8_t>& mask, int64_t H, int64_t W) {
  std::vector<uint8_t> seen(mask.size(), 0);
  std::deque<int64_t> queue;
  int patches = 0;
  for (int64_t start = 0; start < H * W; ++start) {
    if (!mask[size_t(start)] || seen[size_t(start)]) continue;
    ++patches;
    seen[size_t(start)] = 1;
    queue.push_back(start);
    while (!queue.empty()) {
      const int64_t n = queue.front();
      queue.pop_front();
      const int64_t i = n / W, j = n % W;
      for (int64_t di = -1; di <= 1; ++di)
        for (int64_t dj = -1; dj <= 1; ++dj) {
          const int64_t a = i + di, b = (j + dj + W) % W;
          if (a < 0 || a >= H) continue;
          const int64_t m = a * W + b;
          if (mask[size_t(m)] && !seen[size_t(m)]) {
            seen[size_t(m)] = 1;
            queue.push_back(m);
          }
        }
    }
  }
  return patches;
}

io::OutputSpec cam_spec(const SynthConfig& c, const World& world, const SynthClock& clock) {
  io::OutputSpec s;
  s.grid = world.grid();
  s.orientation.lat_descending = c.lat_descending;
  s.set_time(clock.time_units(), c.calendar);
  s.deflate_level = c.deflate_level;
  s.lat_attrs = {};
  std::vector<io::VarDef>& v = s.variables;
  io::VarDef date;
  date.name = "date";
  date.type = NC_INT;
  date.dims = {io::kTimeAxis};
  date.attrs = {io::Attr::str("long_name", "current date (YYYYMMDD)")};
  v.push_back(date);
  io::VarDef datesec = date;
  datesec.name = "datesec";
  datesec.attrs = {io::Attr::str("long_name", "current seconds of current date")};
  v.push_back(datesec);
  io::VarDef gw;
  gw.name = "gw";
  gw.type = NC_DOUBLE;
  gw.dims = {io::kLatAxis};
  gw.attrs = {io::Attr::str("long_name", "latitude weights")};
  v.push_back(gw);
  const int64_t nlev = c.levels == Levels::pressure ? int64_t(c.plev_hpa.size())
                       : c.levels == Levels::hybrid ? int64_t(c.hybrid_levels)
                                                    : 0;
  if (c.levels == Levels::pressure) {
    s.dims = {{"lev", nlev}};
    io::VarDef lev;
    lev.name = "lev";
    lev.type = NC_DOUBLE;
    lev.dims = {"lev"};
    lev.attrs = {io::Attr::str("long_name", "pressure level"), io::Attr::str("units", "hPa"),
                 io::Attr::str("standard_name", "air_pressure"), io::Attr::str("positive", "down"),
                 io::Attr::str("axis", "Z")};
    v.push_back(lev);
  } else if (c.levels == Levels::hybrid) {
    s.dims = {{"lev", nlev}, {"ilev", nlev + 1}};
    io::VarDef lev;
    lev.name = "lev";
    lev.type = NC_DOUBLE;
    lev.dims = {"lev"};
    lev.attrs = {io::Attr::str("long_name", "hybrid level at midpoints (1000*(A+B))"), io::Attr::str("units", "hPa"),
                 io::Attr::str("positive", "down"),
                 io::Attr::str("standard_name", "atmosphere_hybrid_sigma_pressure_coordinate"),
                 io::Attr::str("formula_terms", "a: hyam b: hybm p0: P0 ps: PS")};
    v.push_back(lev);
    io::VarDef ilev = lev;
    ilev.name = "ilev";
    ilev.dims = {"ilev"};
    ilev.attrs = {io::Attr::str("long_name", "hybrid level at interfaces (1000*(A+B))"), io::Attr::str("units", "hPa"),
                  io::Attr::str("positive", "down"),
                  io::Attr::str("standard_name", "atmosphere_hybrid_sigma_pressure_coordinate"),
                  io::Attr::str("formula_terms", "a: hyai b: hybi p0: P0 ps: PS")};
    v.push_back(ilev);
    const char* names[4][2] = {{"hyam", "hybrid A coefficient at layer midpoints"},
                               {"hybm", "hybrid B coefficient at layer midpoints"},
                               {"hyai", "hybrid A coefficient at layer interfaces"},
                               {"hybi", "hybrid B coefficient at layer interfaces"}};
    for (int k = 0; k < 4; ++k) {
      io::VarDef h;
      h.name = names[k][0];
      h.type = NC_DOUBLE;
      h.dims = {k < 2 ? "lev" : "ilev"};
      h.attrs = {io::Attr::str("long_name", names[k][1])};
      v.push_back(h);
    }
    io::VarDef p0;
    p0.name = "P0";
    p0.type = NC_DOUBLE;
    p0.attrs = {io::Attr::str("long_name", "reference pressure"), io::Attr::str("units", "Pa")};
    v.push_back(p0);
  }
  for (const ChannelInfo& ch : cam5_channels()) {
    io::VarDef f = io::float_field(ch.name, ch.units, ch.long_name);
    f.attrs.push_back(io::Attr::str("standard_name", ch.standard_name));
    v.push_back(f);
  }
  io::VarDef labels = io::mask_field("LABELS", {"Background", "Tropical Cyclone", "Atmospheric River"},
                                     "planted truth: 0 background, 1 tropical cyclone, 2 atmospheric river");
  v.push_back(labels);
  if (nlev > 0) {
    v.push_back(io::float_field("Q", "kg/kg", "Specific humidity", {io::kTimeAxis, "lev", io::kLatAxis, io::kLonAxis}));
    v.push_back(io::float_field("U", "m/s", "Zonal wind", {io::kTimeAxis, "lev", io::kLatAxis, io::kLonAxis}));
    v.push_back(io::float_field("V", "m/s", "Meridional wind", {io::kTimeAxis, "lev", io::kLatAxis, io::kLonAxis}));
    v[v.size() - 3].attrs.push_back(io::Attr::str("standard_name", "specific_humidity"));
    v[v.size() - 2].attrs.push_back(io::Attr::str("standard_name", "eastward_wind"));
    v[v.size() - 1].attrs.push_back(io::Attr::str("standard_name", "northward_wind"));
  }
  s.global_attrs = {
      io::Attr::str("title", "climseg synthetic CAM5-like archive (ClimateNet layout)"),
      io::Attr::str("source",
                    "climseg synth: aquaplanet climate with planted tropical cyclones and atmospheric rivers"),
      io::Attr::str("case", c.prefix),
      io::Attr::str("comment",
                    "Synthetic data, not model output. LABELS is the planted truth; see the truth CSV files beside "
                    "this file and docs/synth.md in climseg."),
      io::Attr::num("synth_seed", NC_INT64, {double(c.seed)}),
      io::Attr::num("synth_hours_per_step", NC_DOUBLE, {c.hours}),
  };
  s.provenance.command_line = synth_command(c);
  s.provenance.timestamp = false;  // byte-identical files for the same parameters
  return s;
}

io::OutputSpec waves_spec(const SynthConfig& c, const World& world, const SynthClock& clock) {
  io::OutputSpec s;
  s.grid = world.grid();
  s.orientation.lat_descending = c.lat_descending;
  s.lat_name = "latitude";
  s.lon_name = "longitude";
  s.coord_type = NC_FLOAT;
  s.lat_attrs = {io::Attr::str("units", "degree_north")};
  s.lon_attrs = {io::Attr::str("units", "degree_east")};
  s.set_time(clock.time_units(), c.calendar,
             {io::Attr::str("conventions", "relative julian days with decimal part (as parts of the day )")});
  s.deflate_level = c.deflate_level;
  io::VarDef hs;
  hs.name = "hs";
  hs.type = NC_SHORT;
  hs.dims = io::grid_dims();
  hs.packed = true;
  hs.scale_factor = 0.002;
  hs.fill_value = -32767;
  hs.attrs = {io::Attr::str("long_name", "significant height of wind and swell waves"),
              io::Attr::str("standard_name", "sea_surface_wave_significant_height"),
              io::Attr::str("globwave_name", "significant_wave_height"),
              io::Attr::str("units", "m"),
              io::Attr::num("valid_min", NC_SHORT, {0}),
              io::Attr::num("valid_max", NC_SHORT, {32000})};
  io::VarDef labels;
  labels.name = "LABELS";
  labels.type = NC_BYTE;
  labels.dims = io::grid_dims();
  labels.fill_value = -1;
  labels.attrs = {io::Attr::str("long_name", "planted truth: 0 background, 3 extreme waves"),
                  io::Attr::str("units", "1"), io::Attr::num("flag_values", NC_BYTE, {0, 3}),
                  io::Attr::str("flag_meanings", "Background Extreme_Waves")};
  s.variables = {hs, labels};
  s.global_attrs = {
      io::Attr::str("title", "climseg synthetic significant wave height (WAVEWATCH III gridded layout)"),
      io::Attr::str("product_name", "ww3.synth.nc"),
      io::Attr::str("area", "Global"),
      io::Attr::str("source", "climseg synth: hs from the synthetic surface winds (fully developed sea, smoothed)"),
      io::Attr::num("latitude_resolution", NC_FLOAT, {world.grid().dlat()}),
      io::Attr::num("longitude_resolution", NC_FLOAT, {world.grid().dlon()}),
      io::Attr::num("southernmost_latitude", NC_FLOAT, {-90}),
      io::Attr::num("northernmost_latitude", NC_FLOAT, {90}),
  };
  s.provenance.command_line = synth_command(c);
  s.provenance.timestamp = false;
  return s;
}

std::string cyclone_row(const std::string& head, const CycloneTruth& c) {
  return fmt::format("{},{},{},{:.4f},{:.4f},{:.1f},{:.2f},{:.1f},{:.1f},{:.2f},{:.3f},{}\n", head, c.state.id,
                     c.state.north ? "N" : "S", c.state.centre.lat, c.state.centre.lon, c.psl_min_pa, c.wind_max_ms,
                     c.state.dp_pa, c.state.rmw_km, c.state.vmax_ms, c.state.holland_b, c.cells);
}

std::string river_row(const std::string& head, const RiverTruth& r) {
  if (r.cells == 0) return {};  // too weak to be labelled at this step
  std::string axis;
  for (size_t p = 0; p < r.state.axis.size(); p += 4)
    axis += fmt::format("{}{:.2f}:{:.2f}", axis.empty() ? "" : " ", r.state.axis[p].lat, r.state.axis[p].lon);
  const double width = r.area_km2 / std::max(r.state.length_km, 1.0);  // mean labelled width
  return fmt::format("{},{},{},{:.4f},{:.4f},{:.1f},{:.1f},{:.1f},{:.3f},{:.1f},{},{:.0f},\"{}\"\n", head, r.state.id,
                     r.state.north ? "N" : "S", r.centroid.lat, r.centroid.lon, r.state.length_km, width,
                     r.state.sigma_km, r.state.strength, r.ivt_max, r.cells, r.area_km2, axis);
}

constexpr const char* kCycloneHeader =
    "step,time,date,file,time_index,id,hemisphere,lat,lon,psl_min_pa,wind_max_ms,dp_pa,rmw_km,vmax_ms,holland_b,"
    "cells\n";
constexpr const char* kRiverHeader =
    "step,time,date,file,time_index,id,hemisphere,centroid_lat,centroid_lon,length_km,width_km,sigma_km,strength,"
    "ivt_max,cells,area_km2,axis\n";

// The archive on a cubed sphere's columns: CAM-SE-like files (lat(ncol), lon(ncol), area(ncol),
// (time, ncol) fields and LABELS), the same truth tables and manifest.
ArchiveFiles write_column_archive(const SynthConfig& config, const fs::path& dir, const Comm& comm, bool progress,
                                  const World& world, const SynthClock& clock, ArchiveFiles out) {
  const geo::CubedSphereSpec spec = *geo::parse_cubed_sphere(config.columns);
  geo::UnstructuredGrid grid;
  if (comm.is_root()) grid = geo::cubed_sphere_grid(spec);
  grid.broadcast(comm);  // built once
  const int64_t N = grid.size();
  const int64_t nfiles = int64_t(out.cam.size());
  const auto [f0, fn] = block(nfiles, comm.rank(), comm.size());
  int64_t my_steps = 0;
  for (int64_t k = f0; k < f0 + fn; ++k)
    my_steps += std::min(config.steps_per_file, config.steps - k * config.steps_per_file);
  io::ColumnFileSpec fs_spec = io::column_spec(grid);
  fs_spec.time_units = clock.time_units();
  fs_spec.calendar = config.calendar;
  fs_spec.deflate_level = config.deflate_level;
  for (const auto& ch : cam5_channels())
    fs_spec.variables.push_back({ch.name,
                                 NC_FLOAT,
                                 true,
                                 {io::Attr::str("units", ch.units), io::Attr::str("long_name", ch.long_name),
                                  io::Attr::str("standard_name", ch.standard_name)},
                                 std::nullopt});
  fs_spec.variables.push_back({"LABELS",
                               NC_BYTE,
                               true,
                               {io::Attr::str("long_name", "planted truth: 0 background, 1 tropical cyclone, 2 river"),
                                io::Attr::str("units", "1"), io::Attr::num("flag_values", NC_BYTE, {0, 1, 2}),
                                io::Attr::str("flag_meanings", "Background Tropical_Cyclone Atmospheric_River")},
                               -1.0});
  fs_spec.global_attrs = {io::Attr::str("title", "climseg synthetic CAM-SE-like columns (" + spec.name() + ")"),
                          io::Attr::str("source", "climseg synth"), io::Attr::str("grid", spec.name()),
                          io::Attr::str("history", synth_command(config))};
  if (spec.pg == 0) {
    fs_spec.global_attrs.push_back(io::Attr::i32("ne", spec.ne));
    fs_spec.global_attrs.push_back(io::Attr::i32("np", spec.np));
  }
  std::string cyclone_rows, river_rows;
  Progress bar("synth", my_steps, progress);
  StepFields s;
  for (int64_t k = f0; k < f0 + fn; ++k) {
    const int64_t t0 = k * config.steps_per_file;
    const int64_t nt = std::min(config.steps_per_file, config.steps - t0);
    io::ColumnWriter w(out.cam[size_t(k)], fs_spec);
    const std::string name = fs::path(out.cam[size_t(k)]).filename().string();
    for (int64_t t = t0; t < t0 + nt; ++t) {
      world.generate_columns(t, grid, s);
      const int64_t ti = t - t0;
      w.write_time(ti, clock.time_value(t));
      for (int c = 0; c < kChannelCount; ++c)
        w.write(cam5_channels()[size_t(c)].name, ti, std::span<const float>(s.fields.data() + c * N, size_t(N)));
      w.write("LABELS", ti, std::span<const float>(s.labels.data(), size_t(N)));
      const std::string head = fmt::format("{},{},{},{},{}", t, fmt_g(clock.time_value(t)), clock.iso(t), name, ti);
      for (const CycloneTruth& c : s.cyclones) cyclone_rows += cyclone_row(head, c);
      for (const RiverTruth& r : s.rivers) river_rows += river_row(head, r);
      bar.advance(1);
    }
    w.close();
  }
  bar.finish();
  const auto all_c = comm.allgather(cyclone_rows);
  const auto all_r = comm.allgather(river_rows);
  out.cyclones_csv = (dir / (config.prefix + "_cyclones.csv")).string();
  out.rivers_csv = (dir / (config.prefix + "_rivers.csv")).string();
  out.manifest = (dir / (config.prefix + ".json")).string();
  if (comm.is_root()) {
    std::string csv = kCycloneHeader;
    for (const auto& part : all_c) csv += part;
    write_file_atomically(out.cyclones_csv, csv);
    csv = kRiverHeader;
    for (const auto& part : all_r) csv += part;
    write_file_atomically(out.rivers_csv, csv);
    nlohmann::ordered_json m;
    m["command"] = synth_command(config);
    m["grid"] = {
        {"cubed_sphere", spec.name()}, {"columns", N}, {"world_height", config.height}, {"world_width", config.width}};
    m["time"] = {{"units", clock.time_units()}, {"calendar", config.calendar}, {"hours_per_step", config.hours},
                 {"steps", config.steps},       {"first", clock.iso(0)},       {"last", clock.iso(config.steps - 1)}};
    m["channels"] = nlohmann::json::array();
    for (const auto& ch : cam5_channels()) m["channels"].push_back(ch.name);
    m["labels"] = {{"0", "Background"}, {"1", "Tropical Cyclone"}, {"2", "Atmospheric River"}};
    auto rel = [&](const std::string& p) { return fs::path(p).lexically_relative(dir).string(); };
    m["files"] = nlohmann::json::array();
    for (const auto& f : out.cam) m["files"].push_back(rel(f));
    m["cyclones_truth"] = rel(out.cyclones_csv);
    m["rivers_truth"] = rel(out.rivers_csv);
    m["planted"] = {{"cyclones", world.planned_cyclones().size()}, {"rivers", world.planned_rivers().size()}};
    write_file_atomically(out.manifest, m.dump(2) + "\n");
  }
  comm.barrier();
  return out;
}

}  // namespace

SynthClock::SynthClock(const SynthConfig& c) : config_(c) {
  if (c.start_day > month_days(c, c.start_year, c.start_month))
    fail_usage("--start {:04d}-{:02d}-{:02d}: no such day in the {} calendar", c.start_year, c.start_month, c.start_day,
               c.calendar);
  int days = 0;
  for (int m = 1; m < c.start_month; ++m) days += month_days(c, c.start_year, m);
  start_days_ = days + (c.start_day - 1) + c.start_hour / 24.0;
}

std::string SynthClock::time_units() const {
  return fmt::format("days since {:04d}-01-01 00:00:00", config_.start_year);
}

double SynthClock::time_value(int64_t step) const { return start_days_ + double(step) * config_.hours / 24.0; }

SynthClock::Date SynthClock::date(int64_t step) const {
  // Whole seconds since the epoch (steps are whole seconds apart in practice).
  int64_t secs = int64_t(std::llround(time_value(step) * 86400.0));
  Date d;
  d.year = config_.start_year;
  int64_t day = secs / 86400;
  d.seconds = int(secs % 86400);
  while (day >= year_days(config_, d.year)) day -= year_days(config_, d.year++);
  d.month = 1;
  while (day >= month_days(config_, d.year, d.month)) day -= month_days(config_, d.year, d.month++);
  d.day = int(day) + 1;
  return d;
}

std::string SynthClock::iso(int64_t step) const {
  Date d = date(step);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", d.year, d.month, d.day, d.seconds / 3600,
                     d.seconds / 60 % 60, d.seconds % 60);
}

std::string SynthClock::stamp(int64_t step) const {
  Date d = date(step);
  return fmt::format("{:04d}-{:02d}-{:02d}-{:05d}", d.year, d.month, d.day, d.seconds);
}

std::string synth_command(const SynthConfig& c) {
  std::string cmd = fmt::format(
      "climseg synth --grid {} --steps {} --steps-per-file {} --hours {} --seed {} --start "
      "{:04d}-{:02d}-{:02d}T{:02d} --calendar {} --cyclones {} --rivers {} --deflate {} --prefix {}",
      c.columns.empty() ? fmt::format("{}x{}", c.height, c.width) : c.columns, c.steps, c.steps_per_file,
      fmt_g(c.hours), c.seed, c.start_year, c.start_month, c.start_day, c.start_hour, c.calendar, fmt_g(c.cyclones),
      fmt_g(c.rivers), c.deflate_level, c.prefix);
  if (c.lat_descending) cmd += " --lat-descending";
  if (c.levels == Levels::pressure) {
    cmd += " --levels pressure --plev ";
    for (size_t k = 0; k < c.plev_hpa.size(); ++k) cmd += (k ? "," : "") + fmt_g(c.plev_hpa[k]);
  } else if (c.levels == Levels::hybrid) {
    cmd += fmt::format(" --levels hybrid --hybrid-levels {}", c.hybrid_levels);
  }
  if (c.waves) cmd += " --waves";
  return cmd;
}

std::string cam_file_name(const SynthConfig& c, const SynthClock& clock, int64_t k) {
  return fmt::format("{}.cam.h2.{}.nc", c.prefix, clock.stamp(k * c.steps_per_file));
}
std::string waves_file_name(const SynthConfig& c, const SynthClock& clock, int64_t k) {
  return fmt::format("{}.ww3.{}.nc", c.prefix, clock.stamp(k * c.steps_per_file));
}

void hybrid_coefficients(int levels, std::vector<double>& hyai, std::vector<double>& hybi) {
  // Interfaces eta = a + b from 2.25 hPa to the surface, finer near the ground; pure pressure
  // above eta = 0.1, terrain-following below (b grows as ((eta - 0.1) / 0.9)^1.5).
  const double top = 0.00225;
  hyai.resize(size_t(levels) + 1);
  hybi.resize(size_t(levels) + 1);
  for (int i = 0; i <= levels; ++i) {
    const double x = double(i) / levels;
    const double eta = top + (1.0 - top) * x * (1.6 - 0.6 * x);
    const double b = eta <= 0.1 ? 0.0 : std::pow((eta - 0.1) / 0.9, 1.5);
    hybi[size_t(i)] = b;
    hyai[size_t(i)] = eta - b;
  }
  hyai[size_t(levels)] = 0.0;
  hybi[size_t(levels)] = 1.0;
}

double wave_height(double u) {
  const double grown = 0.021 * u * u;  // Pierson-Moskowitz: 0.21 U^2 / g
  return 1.2 + grown / (1.0 + grown / 14.0);
}

ArchiveFiles write_archive(const SynthConfig& config, const fs::path& dir, const Comm& comm, bool progress) {
  validate(config);
  const SynthClock clock(config);
  const World world(config);
  std::error_code ec;
  if (comm.is_root()) {
    fs::create_directories(dir, ec);
    if (config.waves) fs::create_directories(dir / "waves", ec);
  }
  comm.barrier();
  if (!fs::is_directory(dir)) {
    check_output_folder(dir);  // a file in the way is named
    fail("--out {}: cannot create the directory", dir.string());
  }

  const int64_t nfiles = (config.steps + config.steps_per_file - 1) / config.steps_per_file;
  ArchiveFiles out;
  for (int64_t k = 0; k < nfiles; ++k) {
    out.cam.push_back((dir / cam_file_name(config, clock, k)).string());
    if (config.waves) out.waves.push_back((dir / "waves" / waves_file_name(config, clock, k)).string());
  }
  if (!config.columns.empty()) return write_column_archive(config, dir, comm, progress, world, clock, std::move(out));
  const auto [f0, fn] = block(nfiles, comm.rank(), comm.size());
  int64_t my_steps = 0;
  for (int64_t k = f0; k < f0 + fn; ++k)
    my_steps += std::min(config.steps_per_file, config.steps - k * config.steps_per_file);

  const geo::Grid& grid = world.grid();
  const int64_t H = grid.height(), W = grid.width();
  const size_t HW = size_t(H * W);
  std::vector<double> hyai, hybi, hyam, hybm;
  if (config.levels == Levels::hybrid) {
    hybrid_coefficients(config.hybrid_levels, hyai, hybi);
    for (int l = 0; l < config.hybrid_levels; ++l) {
      hyam.push_back(0.5 * (hyai[size_t(l)] + hyai[size_t(l) + 1]));
      hybm.push_back(0.5 * (hybi[size_t(l)] + hybi[size_t(l) + 1]));
    }
  }
  std::vector<double> plev_pa;
  for (double p : config.plev_hpa) plev_pa.push_back(p * 100.0);
  const std::vector<double> areas = grid.row_areas();
  std::vector<double> gw;
  {
    double total = 0;
    for (double a : areas) total += a;
    for (double a : areas) gw.push_back(2.0 * a / total);  // sums to 2 like CAM's gw
  }
  std::unique_ptr<geo::GaussianSmoother> smoother;
  if (config.waves) smoother = std::make_unique<geo::GaussianSmoother>(grid, 120.0);

  std::string cyclone_rows, river_rows, wave_rows;
  Progress bar("synth", my_steps, progress);
  StepFields s;
  for (int64_t k = f0; k < f0 + fn; ++k) {
    const int64_t t0 = k * config.steps_per_file;
    const int64_t nt = std::min(config.steps_per_file, config.steps - t0);
    io::CfWriter cam(out.cam[size_t(k)], cam_spec(config, world, clock));
    std::unique_ptr<io::CfWriter> waves;
    if (config.waves) waves = std::make_unique<io::CfWriter>(out.waves[size_t(k)], waves_spec(config, world, clock));
    cam.write_values("gw", gw);
    if (config.levels == Levels::pressure) cam.write_values("lev", config.plev_hpa);
    if (config.levels == Levels::hybrid) {
      std::vector<double> lev, ilev;
      for (size_t l = 0; l < hyam.size(); ++l) lev.push_back(1000.0 * (hyam[l] + hybm[l]));
      for (size_t l = 0; l < hyai.size(); ++l) ilev.push_back(1000.0 * (hyai[l] + hybi[l]));
      cam.write_values("lev", lev);
      cam.write_values("ilev", ilev);
      cam.write_values("hyam", hyam);
      cam.write_values("hybm", hybm);
      cam.write_values("hyai", hyai);
      cam.write_values("hybi", hybi);
      cam.write_values("P0", std::vector<double>{100000.0});
    }
    const std::string cam_name = fs::path(out.cam[size_t(k)]).filename().string();
    for (int64_t t = t0; t < t0 + nt; ++t) {
      world.generate(t, s);
      const int64_t ti = t - t0;
      const SynthClock::Date d = clock.date(t);
      cam.write_time(ti, std::vector<double>{clock.time_value(t)});
      cam.write_values("date", ti, 1, std::vector<double>{double(d.year * 10000 + d.month * 100 + d.day)});
      cam.write_values("datesec", ti, 1, std::vector<double>{double(d.seconds)});
      for (int c = 0; c < kChannelCount; ++c)
        cam.write(cam5_channels()[size_t(c)].name, ti, s.fields.data() + size_t(c) * HW);
      cam.write("LABELS", ti, s.labels.data());
      if (config.levels != Levels::none) {
        Tensor q, u, v;
        if (config.levels == Levels::pressure)
          world.columns_at_pressure(s, plev_pa, q, u, v);
        else
          world.columns_at_hybrid(s, hyam, hybm, 100000.0, q, u, v);
        cam.write("Q", ti, q.data());
        cam.write("U", ti, u.data());
        cam.write("V", ti, v.data());
      }
      const std::string head = fmt::format("{},{},{},{},{}", t, fmt_g(clock.time_value(t)), clock.iso(t), cam_name, ti);
      for (const CycloneTruth& c : s.cyclones) cyclone_rows += cyclone_row(head, c);
      for (const RiverTruth& r : s.rivers) river_rows += river_row(head, r);
      if (waves) {
        std::vector<float> hs(HW), lab(HW);
        for (size_t n = 0; n < HW; ++n)
          hs[n] = float(wave_height(
              std::hypot(double(s.fields[int64_t(kUBOT * HW + n)]), double(s.fields[int64_t(kVBOT * HW + n)]))));
        smoother->apply(hs.data());
        std::vector<uint8_t> extreme(HW, 0);
        int64_t cells = 0;
        double area = 0, hs_max = 0;
        for (int64_t i = 0; i < H; ++i) {
          const bool ice = std::abs(grid.lat[size_t(i)]) > 66.0;  // sea ice: no waves
          for (int64_t j = 0; j < W; ++j) {
            const size_t n = size_t(i * W + j);
            if (ice) {
              hs[n] = NAN;
              lab[n] = 0;
              continue;
            }
            hs_max = std::max(hs_max, double(hs[n]));
            const bool x = hs[n] >= kWavesExtremeM;
            lab[n] = x ? float(kExtremeWaves) : 0.0f;
            extreme[n] = x;
            cells += x;
            area += x ? areas[size_t(i)] / 1e6 : 0.0;
          }
        }
        waves->write_time(ti, std::vector<double>{clock.time_value(t)});
        waves->write("hs", ti, hs.data());
        waves->write("LABELS", ti, lab.data());
        wave_rows += fmt::format("{},{},{},{:.0f},{:.3f}\n", head, count_patches(extreme, H, W), cells, area, hs_max);
      }
      bar.advance(1);
    }
    cam.close();
    if (waves) waves->close();
  }
  bar.finish();

  // Truth from every rank, in rank order, which is time order (contiguous blocks of files).
  const auto all_c = comm.allgather(cyclone_rows);
  const auto all_r = comm.allgather(river_rows);
  const auto all_w = comm.allgather(wave_rows);
  out.cyclones_csv = (dir / (config.prefix + "_cyclones.csv")).string();
  out.rivers_csv = (dir / (config.prefix + "_rivers.csv")).string();
  out.manifest = (dir / (config.prefix + ".json")).string();
  if (config.waves) out.waves_csv = (dir / (config.prefix + "_waves.csv")).string();
  if (comm.is_root()) {
    const std::string key = "step,time,date,file,time_index,";
    std::string csv = kCycloneHeader;
    for (const auto& part : all_c) csv += part;
    write_file_atomically(out.cyclones_csv, csv);
    csv = kRiverHeader;
    for (const auto& part : all_r) csv += part;
    write_file_atomically(out.rivers_csv, csv);
    if (config.waves) {
      csv = key + "patches,cells,area_km2,hs_max_m\n";
      for (const auto& part : all_w) csv += part;
      write_file_atomically(out.waves_csv, csv);
    }
    nlohmann::ordered_json m;
    m["command"] = synth_command(config);
    m["grid"] = {{"height", H},
                 {"width", W},
                 {"lat_first", grid.lat.front()},
                 {"lat_last", grid.lat.back()},
                 {"lat_descending_in_files", config.lat_descending}};
    m["time"] = {{"units", clock.time_units()}, {"calendar", config.calendar}, {"hours_per_step", config.hours},
                 {"steps", config.steps},       {"first", clock.iso(0)},       {"last", clock.iso(config.steps - 1)}};
    m["channels"] = nlohmann::json::array();
    for (const auto& ch : cam5_channels()) m["channels"].push_back(ch.name);
    m["labels"] = {{"0", "Background"}, {"1", "Tropical Cyclone"}, {"2", "Atmospheric River"}};
    m["levels"] = config.levels == Levels::pressure ? "pressure" : config.levels == Levels::hybrid ? "hybrid" : "none";
    auto rel = [&](const std::string& p) { return fs::path(p).lexically_relative(dir).string(); };
    m["files"] = nlohmann::json::array();
    for (const auto& f : out.cam) m["files"].push_back(rel(f));
    if (config.waves) {
      m["wave_files"] = nlohmann::json::array();
      for (const auto& f : out.waves) m["wave_files"].push_back(rel(f));
      m["waves_truth"] = rel(out.waves_csv);
    }
    m["cyclones_truth"] = rel(out.cyclones_csv);
    m["rivers_truth"] = rel(out.rivers_csv);
    m["planted"] = {{"cyclones", world.planned_cyclones().size()}, {"rivers", world.planned_rivers().size()}};
    write_file_atomically(out.manifest, m.dump(2) + "\n");
  }
  comm.barrier();
  return out;
}

}  // namespace climseg::synth
