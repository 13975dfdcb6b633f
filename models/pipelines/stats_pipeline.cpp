// `climseg stats` as a library (see stats_pipeline.hpp).
#include "models/pipelines/stats_pipeline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>

#include "analysis/percentiles.hpp"
#include "core/atomic_file.hpp"
#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "readers/column_file.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"
#include "readers/run_key.hpp"
#include "readers/scrip.hpp"
#include "readers/writer.hpp"

namespace climseg::pipelines {

namespace {

// A percentile list: numbers, or the text of the flag ("1,50,99", or its parts as strings).
std::vector<double> read_percentiles(config::Reader& r, const char* key) {
  nlohmann::json v;
  r.get_json(key, v);
  if (v.is_null()) return {};
  if (v.is_string()) return v.get<std::string>().empty() ? std::vector<double>{} : io::parse_percentiles(v);
  if (!v.is_array()) r.fail(key, "must be a list of percentiles in [0, 100], e.g. [1, 50, 99]");
  if (v.empty()) return {};
  std::string text;
  for (const auto& x : v) {
    if (!x.is_number() && !x.is_string()) r.fail(key, "must be a list of percentiles in [0, 100], e.g. [1, 50, 99]");
    text += (text.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : x.dump());
  }
  return io::parse_percentiles(text);
}

}  // namespace

nlohmann::json StatsConfig::to_json() const {
  return {{"in", in},
          {"vars", vars},
          {"out", out},
          {"percentiles", percentiles},
          {"percentile_map", percentile_map},
          {"out_map", out_map},
          {"map_memory_mb", map_memory_mb},
          {"area_weighted", area_weighted},
          {"fill", config::to_string(fill)}};
}

StatsConfig StatsConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail_usage("stats config: must be a JSON object");
  StatsConfig c;
  config::Reader r(j, "stats config");
  r.get_list("in", c.in);
  r.get("vars", c.vars);
  r.get("out", c.out);
  c.percentiles = read_percentiles(r, "percentiles");
  c.percentile_map = read_percentiles(r, "percentile_map");
  r.get("out_map", c.out_map);
  r.get("map_memory_mb", c.map_memory_mb);
  r.get("area_weighted", c.area_weighted);
  r.get_enum("fill", c.fill);
  r.finish(StatsConfig{}.to_json());
  if (c.in.empty()) r.fail("in", "is required (--in: the archive's files, directories, globs or @lists)");
  if (c.out.empty()) r.fail("out", "is required (--out: the statistics JSON file, '-' for stdout)");
  if (c.percentile_map.empty() != c.out_map.empty()) fail_usage("--percentile-map and --out-map go together");
  return c;
}

const std::vector<config::Alias>& StatsConfig::cli_aliases() {
  using K = config::Alias::Kind;
  static const std::vector<config::Alias> a = {
      {"--in", "in", "Files, directories, globs or @list files of the archive", K::list},
      {"--vars", "vars",
       "Channels, comma-separated: TMQ,U@850,V@850,PSL (see docs/formats.md); default: every 2-D field"},
      {"--out", "out", "Statistics JSON file to write ('-' for stdout)"},
      {"--percentiles", "percentiles", "Also percentiles, e.g. 1,50,99 (a second pass over the archive)"},
      {"--percentile-map", "percentile_map",
       "Per-cell percentiles over time, e.g. 99 or 95,99: a CF NetCDF field CHANNEL_pNN per channel "
       "(for label --waves-threshold-field / --ivt-threshold-field); needs --out-map"},
      {"--out-map", "out_map", "NetCDF file for --percentile-map"},
      {"--map-memory-mb", "map_memory_mb",
       "--percentile-map keeps every step of every cell in memory (exact percentiles): refuse above this"},
      {"--area-weighted", "area_weighted", "Weight every value by its cell's area on the sphere", K::flag},
      {"--fill", "fill", "A channel that is entirely fill values: mask (default), skip the sample, error"},
  };
  return a;
}

namespace {

// The moments, every channel with a valid value.
io::ChannelStats checked_result(const io::StatsAccumulator& acc) {
  io::ChannelStats stats = acc.result();
  for (const io::ChannelStat& c : stats.channels)
    if (c.count == 0) fail("channel {} has no valid value in the whole archive", c.name);
  return stats;
}

void check_outputs(const StatsConfig& cfg) {
  for (const auto& [option, path] :
       {std::pair<const char*, std::string>{"--out", cfg.out}, {"--out-map", cfg.out_map}}) {
    if (path.empty() || path == "-") continue;
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (parent.empty() || std::filesystem::is_directory(parent)) continue;
    if (std::filesystem::exists(parent)) fail("{} {}: {} is a file, not a directory", option, path, parent.string());
    fail("{} {}: the directory {} does not exist", option, path, parent.string());
  }
  if (!cfg.out_map.empty() && std::filesystem::is_directory(cfg.out_map))
    fail("--out-map {}: is a directory; give a file name (e.g. {}/p99.nc)", cfg.out_map, cfg.out_map);
  if (cfg.out != "-" && std::filesystem::is_directory(cfg.out))
    fail("--out {}: is a directory; give a file name (e.g. {}/stats.json)", cfg.out, cfg.out);
}

// What this run writes (the statistics file and the map), for the statistics' provenance.
nlohmann::json outputs_written(const StatsConfig& cfg) {
  nlohmann::json o = nlohmann::json::array();
  if (cfg.out != "-") o.push_back(cfg.out);
  if (!cfg.out_map.empty()) o.push_back(cfg.out_map);
  return o;
}

StatsReport column_stats(const StatsConfig& cfg, const Comm& world) {
  std::vector<std::string> names;
  for (size_t a = 0, b; a <= cfg.vars.size() && !cfg.vars.empty(); a = b + 1) {
    b = std::min(cfg.vars.find(',', a), cfg.vars.size());
    names.push_back(cfg.vars.substr(a, b - a));
  }
  const io::ColumnArchive archive = io::ColumnArchive::open(cfg.in, names);
  std::vector<double> weights;
  if (cfg.area_weighted) {
    geo::UnstructuredGrid grid;
    if (world.is_root()) grid = io::read_unstructured_grid(archive.files().front());
    grid.broadcast(world);  // built once
    weights = grid.area_m2;
  }
  log::info("stats: {} steps of {} channels on {} ({} columns), {} rank(s)", archive.size(),
            archive.channel_names().size(), archive.layout().description, archive.layout().columns, world.size());
  StatsReport report;
  report.stats = io::column_statistics(archive, cfg.percentiles, weights, world);
  report.stats.area_weighted = cfg.area_weighted;
  report.stats.provenance = {{"inputs", cfg.in},
                             {"channels", archive.channel_names()},
                             {"files", archive.files().size()},
                             {"grid", archive.layout().description},
                             {"ranks", world.size()},
                             {"climseg", fmt::format("{} ({})", build::version(), build::git_hash())}};
  report.json = io::to_json(report.stats);
  report.json["config"] = cfg.to_json();
  if (world.is_root() && cfg.out != "-") {
    write_file_atomically(cfg.out, report.json.dump(2) + "\n");
    report.written.push_back(cfg.out);
  }
  return report;
}

// Exact per-cell percentiles over all steps (analysis::linear_percentiles; missing values left out,
// a cell without any valid value is a fill value). Every value of every cell is held in memory, so
// the archive must fit map_memory_mb; the root rank reads the whole archive for it (other ranks wait).
void percentile_map(const StatsConfig& cfg, io::Archive& archive, const Comm& world, const RunOptions& run,
                    OutputGroup& outputs, const io::RunKey& key) {
  const std::vector<double>& pct = cfg.percentile_map;
  const int64_t S = archive.size(), n = archive.grid().size();
  const int64_t C = static_cast<int64_t>(archive.channel_names().size());
  const double mb = double(S) * double(n) * double(C) * 4.0 / (1024.0 * 1024.0);
  if (mb > cfg.map_memory_mb)
    fail(
        "--percentile-map needs {:.0f} MB for {} steps of {} channel(s) on {} (over --map-memory-mb {}): "
        "choose fewer channels with --vars or fewer files",
        mb, S, C, archive.grid().shape_str(), cfg.map_memory_mb);
  if (world.is_root()) {
    std::vector<float> all(size_t(S * n * C));  // (channel, cell, step)
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<int64_t> every(static_cast<size_t>(S));
    std::iota(every.begin(), every.end(), 0);
    Progress progress("percentile map", S, run.progress);
    io::Prefetcher loader(archive, every, 2);
    while (auto s = loader.next()) {
      const int64_t t = s->index;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t k = 0; k < n; ++k) {
          const bool ok = s->valid.numel() == 0 || s->valid[c * n + k] != 0.0f;
          all[size_t((c * n + k) * S + t)] = ok ? s->data[c * n + k] : nan;
        }
      loader.recycle(std::move(*s));
      progress.advance();
    }
    progress.finish();
    // Laid out like the first input, with its first time step (or its scalar time, or none).
    io::OutputSpec spec = io::output_like(archive.files().front());
    spec.time_steps = 1;
    auto var_name = [&](int64_t c, double p) {
      std::string q = fmt::format("{:g}", p);
      std::replace(q.begin(), q.end(), '.', '_');
      return archive.channel_names()[size_t(c)] + "_p" + q;
    };
    for (int64_t c = 0; c < C; ++c)
      for (double p : pct) {
        spec.variables.push_back(io::float_field(
            var_name(c, p), archive.channel_units()[size_t(c)],
            fmt::format("{:g}th percentile of {} over {} time steps", p, archive.channel_names()[size_t(c)], S)));
        spec.variables.back().attrs.push_back(
            io::Attr::str("comment",
                          "per-cell percentile over time (climseg stats --percentile-map): linear "
                          "interpolation between order statistics, missing values left out"));
        // Cells never valid (NaN) become the CF default fill value.
        spec.variables.back().fill_value = 9.969209968386869e36;
      }
    spec.global_attrs.push_back(io::Attr::str("title", "climseg per-cell percentiles"));
    spec.provenance.inputs = cfg.in;
    spec.provenance.run_key = key.text();
    io::CfWriter writer(outputs.add(cfg.out_map), spec);
    const int64_t t0 = writer.append_time(archive.info(0).time_value);
    std::vector<float> values;
    std::vector<std::vector<float>> planes(pct.size(), std::vector<float>(static_cast<size_t>(n)));
    std::vector<float> cell(pct.size());
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t k = 0; k < n; ++k) {
        const float* v = &all[size_t((c * n + k) * S)];
        values.assign(v, v + S);
        analysis::linear_percentiles(values, pct, cell);
        for (size_t q = 0; q < pct.size(); ++q) planes[q][size_t(k)] = cell[q];
      }
      for (size_t q = 0; q < pct.size(); ++q) writer.write(var_name(c, pct[q]), t0, planes[q].data());
    }
    writer.close();
    log::info("wrote {} ({} percentile field(s) of {} steps)", cfg.out_map, C * int64_t(pct.size()), S);
  }
  world.barrier();
}

}  // namespace

StatsReport run_stats(const StatsConfig& cfg, const Comm& world, const RunOptions& run) {
  check_outputs(cfg);
  if (io::ColumnArchive::is_columns(cfg.in)) {  // unstructured columns (CAM-SE ncol, SCRIP, UGRID)
    if (!cfg.percentile_map.empty())
      fail_usage("--percentile-map: lat-lon archives only (the input has unstructured columns)");
    return column_stats(cfg, world);
  }
  io::ArchiveOptions options;
  if (!cfg.vars.empty()) options.channels = io::parse_channels(cfg.vars);
  options.all_fill = cfg.fill;
  options.comm = world;
  io::Archive archive = io::Archive::open(cfg.in, options);
  std::vector<std::string> files;
  for (const auto& f : archive.files()) files.push_back(f.path);
  const io::RunKey key = io::make_run_key(
      "stats", alias_values(cfg.to_json(), StatsConfig::cli_aliases(), {"in", "out", "out_map"}), files);
  const io::Block block = io::block_partition(archive.size(), world.rank(), world.size());
  std::vector<int64_t> mine(static_cast<size_t>(block.size()));
  std::iota(mine.begin(), mine.end(), block.begin);
  std::vector<double> weights;
  if (cfg.area_weighted) weights = archive.grid().row_areas();
  log::info("stats: {} samples of {} channels on a {} grid, {} rank(s)", archive.size(), archive.channel_names().size(),
            archive.grid().shape_str(), world.size());

  io::StatsAccumulator acc(archive.channel_names(), archive.channel_units(), weights);
  {
    Progress progress("stats", block.size(), run.progress);
    io::Prefetcher loader(archive, mine, 2);
    while (auto s = loader.next()) {
      acc.add(*s);
      loader.recycle(std::move(*s));
      progress.advance();
    }
    progress.finish();
  }
  acc.allreduce(world);
  StatsReport report;
  io::ChannelStats& stats = report.stats;
  stats = checked_result(acc);

  const std::vector<double>& pct = cfg.percentiles;
  if (!pct.empty()) {
    io::PercentileAccumulator pc(acc.moments(), weights);
    Progress progress("percentiles", block.size(), run.progress);
    io::Prefetcher loader(archive, mine, 2);
    while (auto s = loader.next()) {
      pc.add(*s);
      loader.recycle(std::move(*s));
      progress.advance();
    }
    progress.finish();
    pc.allreduce(world);
    for (size_t c = 0; c < stats.channels.size(); ++c) {
      auto v = pc.values(static_cast<int64_t>(c), pct);
      for (size_t k = 0; k < pct.size(); ++k) stats.channels[c].percentiles.emplace_back(pct[k], v[k]);
    }
  }

  // The statistics file and the map appear together at the end, or (on an error) neither.
  OutputGroup outputs;
  if (!cfg.percentile_map.empty()) percentile_map(cfg, archive, world, run, outputs, key);

  stats.provenance = {{"inputs", cfg.in},
                      {"channels", archive.channel_names()},
                      {"files", archive.files().size()},
                      {"ranks", world.size()},
                      {"climseg", fmt::format("{} ({})", build::version(), build::git_hash())},
                      {"run_key", key.json},
                      {"outputs", outputs_written(cfg)}};
  report.json = io::to_json(stats);
  report.json["config"] = cfg.to_json();
  if (world.is_root()) {
    if (cfg.out != "-") {
      write_file_atomically(outputs.add(cfg.out), report.json.dump(2) + "\n");
      report.written.push_back(cfg.out);
    }
    if (!cfg.out_map.empty()) report.written.push_back(cfg.out_map);
    outputs.commit();
  }
  return report;
}

StepsStats::StepsStats(std::vector<std::string> names, std::vector<std::string> units, const geo::Grid& grid,
                       bool area_weighted, std::vector<double> percentiles)
    : weights_(area_weighted ? grid.row_areas() : std::vector<double>{}),
      pct_(std::move(percentiles)),
      acc_(std::move(names), std::move(units), weights_) {}

void StepsStats::add_percentiles(const io::Sample& s) {
  if (!pc_) pc_ = std::make_unique<io::PercentileAccumulator>(acc_.moments(), weights_);
  pc_->add(s);
}

nlohmann::json StepsStats::json() {
  io::ChannelStats stats = checked_result(acc_);
  if (!pct_.empty()) {
    if (!pc_) fail_usage("stats: percentiles asked for but no second pass made");
    for (size_t c = 0; c < stats.channels.size(); ++c) {
      auto v = pc_->values(static_cast<int64_t>(c), pct_);
      for (size_t k = 0; k < pct_.size(); ++k) stats.channels[c].percentiles.emplace_back(pct_[k], v[k]);
    }
  }
  return io::to_json(stats);
}

}  // namespace climseg::pipelines
