// `climseg bench train` and `climseg bench predict`: a network's step time and peak memory against PyTorch.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "apps/bench_peer.hpp"
#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/threads.hpp"
#include "models/training/bench.hpp"
#include "nn/bench_ops.hpp"
#include "nn/precision.hpp"

namespace climseg::app {
namespace {

// What `--peer` and `--python` ask for.
struct PeerOptions {
  bool on = false;
  std::string python = "/usr/bin/python3";
};

// Runs scripts/peer/torch_cgnet.py (`mode`: train or predict) on the same workload, with glibc's
// allocator as it is and keeping freed memory, and returns the faster run's JSON line with both
// medians (faster_peer); null when Python or torch is missing.
nlohmann::json torch_cgnet_peer(const training::BenchOptions& o, const std::string& python, const std::string& mode) {
  const std::string script = peer_script("torch_cgnet.py");
  if (!std::filesystem::exists(python) || !std::filesystem::exists(script)) {
    log::warn("peer skipped: {} or {} not found", python, script);
    return nullptr;
  }
  nlohmann::json runs[2];
  int a = 0;
  for (const PeerRun& run : run_peer_both_allocators(
           fmt::format("{} {} {} --grid {}x{} --batch {} --steps {} --warmup {} --threads {} --channels {} "
                       "--classes {} 2>/dev/null",
                       python, script, mode, o.height, o.width, o.batch, o.steps, o.warmup, num_threads(), o.channels,
                       o.classes))) {
    try {
      if (run.status != -1) runs[a] = nlohmann::json::parse(run.out);
    } catch (const nlohmann::json::exception&) {
      log::warn("peer ({}) gave no result (is python3-torch installed?): {}", run.allocator, run.out.substr(0, 200));
    }
    ++a;
  }
  return faster_peer(runs[0], runs[1], "median_s");
}

// Prints rank 0's result, with the peer's figures when asked for.
void print_bench(nlohmann::json r, const training::BenchOptions& o, const PeerOptions& peer, const char* mode) {
  if (!Comm::world().is_root()) return;
  if (peer.on) training::add_peer(r, torch_cgnet_peer(o, peer.python, mode));
  r["isa"] = isa_name(active_isa());
  if (r.contains("roofline")) std::cerr << nn::step_roofline_text(r["roofline"]) << std::flush;
  std::cout << r.dump() << std::endl;
}

void add_common(CLI::App& app, training::BenchOptions& o, PeerOptions& peer, std::string& grid) {
  app.add_option("--model", o.model, "cgnet, unet or deeplabv3plus (default hyper-parameters)")
      ->check(CLI::IsMember({"cgnet", "unet", "deeplabv3plus"}));
  app.add_option("--grid", grid, "HxW, e.g. 192x288 or 768x1152");
  app.add_option("--batch", o.batch, "Samples per step")->check(CLI::PositiveNumber);
  app.add_option("--steps", o.steps, "Timed steps (after one warm-up step)")->check(CLI::PositiveNumber);
  app.add_option("--channels", o.channels, "Input channels")->check(CLI::PositiveNumber);
  app.add_flag("--peer", peer.on, "Also run the same workload in PyTorch (/usr/bin/python3 with python3-torch)");
  app.add_option("--python", peer.python, "Python interpreter for --peer");
  app.add_option("--roofline", o.roofline, "The step against its roofline (JSON, and text on stderr): full, quick, off")
      ->check(CLI::IsMember({"full", "quick", "off"}));
}

void parse_grid(const std::string& grid, training::BenchOptions& o) {
  auto x = grid.find('x');
  try {
    if (x == std::string::npos) throw std::invalid_argument(grid);
    o.height = std::stoll(grid.substr(0, x));
    o.width = std::stoll(grid.substr(x + 1));
  } catch (const std::exception&) {
    fail_usage("--grid must look like 192x288, got '{}'", grid);
  }
  if (o.height < 8 || o.width < 8) fail_usage("--grid {}: at least 8x8", grid);
}

class BenchTrainCommand : public Command {
 public:
  std::string name() const override { return "train"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override { return "Training step time and peak memory (vs PyTorch with --peer)"; }
  void setup(CLI::App& app) override {
    add_common(app, o_, peer_, grid_);
    app.add_flag("--ranks-report", o_.ranks_report,
                 "Under mpirun: per-step compute, exposed allreduce and overlap (hidden fraction)");
    app.add_option("--bucket-mb", o_.bucket_mb, "Gradient allreduce bucket size under MPI")->check(CLI::PositiveNumber);
  }
  int run(const GlobalOptions&) override {
    parse_grid(grid_, o_);
    print_bench(training::bench_train(o_, Comm::world()), o_, peer_, "train");
    return 0;
  }

 private:
  training::BenchOptions o_;
  PeerOptions peer_;
  std::string grid_ = "192x288";
};

class BenchPredictCommand : public Command {
 public:
  std::string name() const override { return "predict"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override { return "Prediction time and peak memory (vs PyTorch with --peer)"; }
  void setup(CLI::App& app) override {
    add_common(app, o_, peer_, grid_);
    app.add_option("--precision", precision_,
                   "Convolution arithmetic: fp32, or bf16 (AVX512-BF16: bf16 inputs, fp32 sums)")
        ->check(CLI::IsMember({"fp32", "bf16"}));
  }
  int run(const GlobalOptions&) override {
    parse_grid(grid_, o_);
    o_.precision = nn::parse_precision(precision_);
    if (o_.precision == nn::Precision::bf16 && peer_.on)
      fail_usage("bench predict --precision bf16 --peer: the PyTorch peer runs fp32; drop one of them");
    nn::require_precision(o_.precision);
    print_bench(training::bench_predict(o_, Comm::world()), o_, peer_, "predict");
    return 0;
  }

 private:
  training::BenchOptions o_ = [] {
    training::BenchOptions o;
    o.batch = 1;
    o.steps = 3;
    return o;
  }();
  PeerOptions peer_;
  std::string grid_ = "768x1152";
  std::string precision_ = "fp32";
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchTrainCommand)
CLIMSEG_REGISTER_COMMAND(BenchPredictCommand)
}  // namespace climseg::app
