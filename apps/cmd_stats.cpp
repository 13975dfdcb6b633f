// `climseg stats`: per-channel normalization statistics of an archive, MPI-parallel over samples.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <numeric>

#include "apps/command.hpp"
#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/progress.hpp"
#include "readers/archive.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"
#include "readers/stats.hpp"

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
    app.add_option("--in", inputs_, "Files, directories, globs or @list files of the archive")->required();
    app.add_option("--vars", vars_,
                   "Channels, comma-separated: TMQ,U@850,V@850,PSL (see docs/formats.md); default: every 2-D field");
    app.add_option("--out", out_, "Statistics JSON file to write ('-' for stdout)")->required();
    app.add_option("--percentiles", percentiles_, "Also percentiles, e.g. 1,50,99 (a second pass over the archive)");
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
    if (out_ != "-") {
      std::filesystem::path parent = std::filesystem::path(out_).parent_path();
      if (!parent.empty() && !std::filesystem::is_directory(parent))
        fail("{}: the output directory {} does not exist", out_, parent.string());
    }

    io::Archive archive = io::Archive::open(inputs_, options);
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

    stats.provenance = {{"inputs", inputs_},
                        {"channels", archive.channel_names()},
                        {"files", archive.files().size()},
                        {"ranks", world.size()},
                        {"climseg", fmt::format("{} ({})", build::version(), build::git_hash())}};
    if (world.is_root()) {
      if (out_ == "-") {
        std::cout << io::to_json(stats).dump(2) << "\n";
      } else {
        io::save_stats(out_, stats);
        for (const io::ChannelStat& c : stats.channels)
          std::cout << fmt::format(
              "{:<10} count {:>12}  mean {:>12.6g}  std {:>12.6g}  min {:>12.6g}  max {:>12.6g}{}\n", c.name, c.count,
              c.mean, c.std, c.min, c.max, c.units.empty() ? "" : "  " + c.units);
        log::info("wrote {}", out_);
      }
    }
    return 0;
  }

 private:
  std::vector<std::string> inputs_;
  std::string vars_, out_, percentiles_, fill_ = "mask";
  bool area_weighted_ = false;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(StatsCommand)
}  // namespace climseg::app
