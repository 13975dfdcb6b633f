// `climseg stats`: per-channel normalization statistics of an archive, MPI-parallel over samples.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <numeric>

#include "apps/command.hpp"
#include "core/atomic_file.hpp"
#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/progress.hpp"
#include "readers/archive.hpp"
#include "readers/column_file.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"
#include "readers/run_key.hpp"
#include "readers/stats.hpp"
#include "readers/writer.hpp"

namespace climseg::app {
namespace {

class StatsCommand : public Command {
 public:
  std::string name() const override { return "stats"; }
  std::string summary() const override {
    return "Per-channel count, mean, std, min, max (and percentiles) of an archive, for normalization";
  }
  int order() const override { return 20; }

  void setup(CLI::App& app) override {
    app_ = &app;
    app.add_option("--in", inputs_, "Files, directories, globs or @list files of the archive")->required();
    app.add_option("--vars", vars_,
                   "Channels, comma-separated: TMQ,U@850,V@850,PSL (see docs/formats.md); default: every 2-D field");
    app.add_option("--out", out_, "Statistics JSON file to write ('-' for stdout)")->required();
    app.add_option("--percentiles", percentiles_, "Also percentiles, e.g. 1,50,99 (a second pass over the archive)");
    app.add_option("--percentile-map", map_percentiles_,
                   "Per-cell percentiles over time, e.g. 99 or 95,99: a CF NetCDF field CHANNEL_pNN per channel "
                   "(for label --waves-threshold-field / --ivt-threshold-field); needs --out-map");
    app.add_option("--out-map", out_map_, "NetCDF file for --percentile-map");
    app.add_option("--map-memory-mb", map_memory_mb_,
                   "--percentile-map keeps every step of every cell in memory (exact percentiles): refuse above this")
        ->capture_default_str();
    app.add_flag("--area-weighted", area_weighted_, "Weight every value by its cell's area on the sphere");
    app.add_option("--fill", fill_, "A channel that is entirely fill values: mask (default), skip the sample, error")
        ->check(CLI::IsMember({"mask", "skip", "error"}));
    app.footer(
        "Moments are merged across samples and ranks with Chan et al.'s pairwise update, so 'mpirun -n P' gives the\n"
        "serial result (to rounding). Fill, missing and out-of-range values are left out.");
  }

  int run(const GlobalOptions& global) override {
    Comm world = Comm::world();
    io::ArchiveOptions options;
    if (!vars_.empty()) options.channels = io::parse_channels(vars_);
    options.all_fill = io::parse_fill_policy(fill_);
    std::vector<double> pct;
    if (!percentiles_.empty()) pct = io::parse_percentiles(percentiles_);
    std::vector<double> map_pct;
    if (!map_percentiles_.empty()) map_pct = io::parse_percentiles(map_percentiles_);
    if (map_pct.empty() != out_map_.empty()) fail_usage("--percentile-map and --out-map go together");
    for (const auto& [option, path] : {std::pair<const char*, std::string>{"--out", out_}, {"--out-map", out_map_}}) {
      if (path.empty() || path == "-") continue;
      const std::filesystem::path parent = std::filesystem::path(path).parent_path();
      if (parent.empty() || std::filesystem::is_directory(parent)) continue;
      if (std::filesystem::exists(parent)) fail("{} {}: {} is a file, not a directory", option, path, parent.string());
      fail("{} {}: the directory {} does not exist", option, path, parent.string());
    }
    if (!out_map_.empty() && std::filesystem::is_directory(out_map_))
      fail("--out-map {}: is a directory; give a file name (e.g. {}/p99.nc)", out_map_, out_map_);
    if (out_ != "-" && std::filesystem::is_directory(out_))
      fail("--out {}: is a directory; give a file name (e.g. {}/stats.json)", out_, out_);

    if (io::ColumnArchive::is_columns(inputs_)) {  // unstructured columns (CAM-SE ncol, SCRIP, UGRID)
      if (!map_pct.empty()) fail_usage("--percentile-map: lat-lon archives only (the input has unstructured columns)");
      return column_stats(pct, world);
    }
    io::Archive archive = io::Archive::open(inputs_, options);
    std::vector<std::string> files;
    for (const auto& f : archive.files()) files.push_back(f.path);
    const io::RunKey key = io::make_run_key("stats", option_values(*app_, {"--in", "--out", "--out-map"}), files);
    const io::Block block = io::block_partition(archive.size(), world.rank(), world.size());
    std::vector<int64_t> mine(static_cast<size_t>(block.size()));
    std::iota(mine.begin(), mine.end(), block.begin);
    std::vector<double> weights;
    if (area_weighted_) weights = archive.grid().row_areas();
    log::info("stats: {} samples of {} channels on a {} grid, {} rank(s)", archive.size(),
              archive.channel_names().size(), archive.grid().shape_str(), world.size());

    io::StatsAccumulator acc(archive.channel_names(), archive.channel_units(), weights);
    {
      Progress progress("stats", block.size(), !global.no_progress);
      io::Prefetcher loader(archive, mine, 2);
      while (auto s = loader.next()) {
        acc.add(*s);
        loader.recycle(std::move(*s));
        progress.advance();
      }
      progress.finish();
    }
    acc.allreduce(world);
    io::ChannelStats stats = acc.result();
    for (const io::ChannelStat& c : stats.channels)
      if (c.count == 0) fail("channel {} has no valid value in the whole archive", c.name);

    if (!pct.empty()) {
      io::PercentileAccumulator pc(acc.moments(), weights);
      Progress progress("percentiles", block.size(), !global.no_progress);
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
    if (!map_pct.empty()) percentile_map(archive, map_pct, world, global, outputs, key);

    stats.provenance = {{"inputs", inputs_},
                        {"channels", archive.channel_names()},
                        {"files", archive.files().size()},
                        {"ranks", world.size()},
                        {"climseg", fmt::format("{} ({})", build::version(), build::git_hash())},
                        {"run_key", key.json},
                        {"outputs", outputs_written()}};
    if (world.is_root()) {
      if (out_ == "-") {
        std::cout << io::to_json(stats).dump(2) << "\n";
      } else {
        io::save_stats(outputs.add(out_), stats);
        for (const io::ChannelStat& c : stats.channels)
          std::cout << fmt::format(
              "{:<10} count {:>12}  mean {:>12.6g}  std {:>12.6g}  min {:>12.6g}  max {:>12.6g}{}\n", c.name, c.count,
              c.mean, c.std, c.min, c.max, c.units.empty() ? "" : "  " + c.units);
        log::info("wrote {}", out_);
      }
      outputs.commit();
    }
    return 0;
  }

 private:
  int column_stats(const std::vector<double>& pct, const Comm& world) {
    std::vector<std::string> names;
    for (size_t a = 0, b; a <= vars_.size() && !vars_.empty(); a = b + 1) {
      b = std::min(vars_.find(',', a), vars_.size());
      names.push_back(vars_.substr(a, b - a));
    }
    const io::ColumnArchive archive = io::ColumnArchive::open(inputs_, names);
    std::vector<double> weights;
    if (area_weighted_) {
      geo::UnstructuredGrid grid;
      if (world.is_root()) grid = io::read_unstructured_grid(archive.files().front());
      grid.broadcast(world);  // built once
      weights = grid.area_m2;
    }
    log::info("stats: {} steps of {} channels on {} ({} columns), {} rank(s)", archive.size(),
              archive.channel_names().size(), archive.layout().description, archive.layout().columns, world.size());
    io::ChannelStats stats = io::column_statistics(archive, pct, weights, world);
    stats.area_weighted = area_weighted_;
    stats.provenance = {{"inputs", inputs_},
                        {"channels", archive.channel_names()},
                        {"files", archive.files().size()},
                        {"grid", archive.layout().description},
                        {"ranks", world.size()},
                        {"climseg", fmt::format("{} ({})", build::version(), build::git_hash())}};
    report(stats, world);
    return 0;
  }

  void report(const io::ChannelStats& stats, const Comm& world) const {
    if (!world.is_root()) return;
    if (out_ == "-") {
      std::cout << io::to_json(stats).dump(2) << "\n";
      return;
    }
    io::save_stats(out_, stats);
    for (const io::ChannelStat& c : stats.channels)
      std::cout << fmt::format("{:<10} count {:>12}  mean {:>12.6g}  std {:>12.6g}  min {:>12.6g}  max {:>12.6g}{}\n",
                               c.name, c.count, c.mean, c.std, c.min, c.max, c.units.empty() ? "" : "  " + c.units);
    log::info("wrote {}", out_);
  }

  // Exact per-cell percentiles over all steps (numpy's default linear interpolation between order
  // statistics; missing values left out, a cell without any valid value is a fill value). Every value of
  // every cell is held in memory, so the archive must fit --map-memory-mb; the root rank reads the
  // whole archive for it (other ranks wait).
  void percentile_map(io::Archive& archive, const std::vector<double>& pct, Comm& world, const GlobalOptions& global,
                      OutputGroup& outputs, const io::RunKey& key) {
    const int64_t S = archive.size(), n = archive.grid().size();
    const int64_t C = static_cast<int64_t>(archive.channel_names().size());
    const double mb = double(S) * double(n) * double(C) * 4.0 / (1024.0 * 1024.0);
    if (mb > map_memory_mb_)
      fail(
          "--percentile-map needs {:.0f} MB for {} steps of {} channel(s) on {} (over --map-memory-mb {}): "
          "choose fewer channels with --vars or fewer files",
          mb, S, C, archive.grid().shape_str(), map_memory_mb_);
    if (world.is_root()) {
      std::vector<float> all(size_t(S * n * C));  // (channel, cell, step)
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::vector<int64_t> every(static_cast<size_t>(S));
      std::iota(every.begin(), every.end(), 0);
      Progress progress("percentile map", S, !global.no_progress);
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
      spec.provenance.inputs = inputs_;
      spec.provenance.run_key = key.text();
      io::CfWriter writer(outputs.add(out_map_), spec);
      const int64_t t0 = writer.append_time(archive.info(0).time_value);
      // Each cell's values sorted once, every requested percentile read from them.
      std::vector<float> values;
      std::vector<std::vector<float>> planes(pct.size(), std::vector<float>(static_cast<size_t>(n)));
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t k = 0; k < n; ++k) {
          values.clear();
          for (int64_t t = 0; t < S; ++t) {
            const float v = all[size_t((c * n + k) * S + t)];
            if (!std::isnan(v)) values.push_back(v);
          }
          std::sort(values.begin(), values.end());
          for (size_t q = 0; q < pct.size(); ++q) {
            if (values.empty()) {
              planes[q][size_t(k)] = nan;
              continue;
            }
            const double pos = pct[q] / 100.0 * double(values.size() - 1);
            const size_t lo = size_t(std::floor(pos));
            const size_t hi = std::min(lo + 1, values.size() - 1);
            planes[q][size_t(k)] =
                float(double(values[lo]) + (pos - double(lo)) * (double(values[hi]) - double(values[lo])));
          }
        }
        for (size_t q = 0; q < pct.size(); ++q) writer.write(var_name(c, pct[q]), t0, planes[q].data());
      }
      writer.close();
      log::info("wrote {} ({} percentile field(s) of {} steps)", out_map_, C * int64_t(pct.size()), S);
    }
    world.barrier();
  }

  std::vector<std::string> inputs_;
  // What this run writes (the statistics file and the map), for the statistics' provenance.
  nlohmann::json outputs_written() const {
    nlohmann::json o = nlohmann::json::array();
    if (out_ != "-") o.push_back(out_);
    if (!out_map_.empty()) o.push_back(out_map_);
    return o;
  }

  std::string vars_, out_, percentiles_, fill_ = "mask", map_percentiles_, out_map_;
  double map_memory_mb_ = 4096;
  bool area_weighted_ = false;
  CLI::App* app_ = nullptr;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(StatsCommand)
}  // namespace climseg::app
