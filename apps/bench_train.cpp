// `climseg bench train` and `climseg bench predict`: a network's step time and peak memory against PyTorch.
#include <iostream>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/mpi.hpp"
#include "models/training/bench.hpp"
#include "nn/precision.hpp"

namespace climseg::app {
namespace {

void add_common(CLI::App& app, training::BenchOptions& o, std::string& grid) {
  app.add_option("--model", o.model, "cgnet, unet or deeplabv3plus (default hyper-parameters)")
      ->check(CLI::IsMember({"cgnet", "unet", "deeplabv3plus"}));
  app.add_option("--grid", grid, "HxW, e.g. 192x288 or 768x1152");
  app.add_option("--batch", o.batch, "Samples per step")->check(CLI::PositiveNumber);
  app.add_option("--steps", o.steps, "Timed steps (after one warm-up step)")->check(CLI::PositiveNumber);
  app.add_option("--channels", o.channels, "Input channels")->check(CLI::PositiveNumber);
  app.add_flag("--peer", o.peer, "Also run the same workload in PyTorch (/usr/bin/python3 with python3-torch)");
  app.add_option("--python", o.python, "Python interpreter for --peer");
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
    add_common(app, o_, grid_);
    app.add_flag("--ranks-report", o_.ranks_report,
                 "Under mpirun: per-step compute, exposed allreduce and overlap (hidden fraction)");
    app.add_option("--bucket-mb", o_.bucket_mb, "Gradient allreduce bucket size under MPI")->check(CLI::PositiveNumber);
  }
  int run(const GlobalOptions&) override {
    parse_grid(grid_, o_);
    nlohmann::json r = training::bench_train(o_, Comm::world());
    r["isa"] = isa_name(active_isa());
    if (Comm::world().is_root()) std::cout << r.dump() << std::endl;
    return 0;
  }

 private:
  training::BenchOptions o_;
  std::string grid_ = "192x288";
};

class BenchPredictCommand : public Command {
 public:
  std::string name() const override { return "predict"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override { return "Prediction time and peak memory (vs PyTorch with --peer)"; }
  void setup(CLI::App& app) override {
    add_common(app, o_, grid_);
    app.add_option("--precision", precision_,
                   "Convolution arithmetic: fp32, or bf16 (AVX512-BF16: bf16 inputs, fp32 sums)")
        ->check(CLI::IsMember({"fp32", "bf16"}));
  }
  int run(const GlobalOptions&) override {
    parse_grid(grid_, o_);
    o_.precision = nn::parse_precision(precision_);
    if (o_.precision == nn::Precision::bf16 && o_.peer)
      fail_usage("bench predict --precision bf16 --peer: the PyTorch peer runs fp32; drop one of them");
    nn::require_precision(o_.precision);
    nlohmann::json r = training::bench_predict(o_, Comm::world());
    r["isa"] = isa_name(active_isa());
    if (Comm::world().is_root()) std::cout << r.dump() << std::endl;
    return 0;
  }

 private:
  training::BenchOptions o_ = [] {
    training::BenchOptions o;
    o.batch = 1;
    o.steps = 3;
    return o;
  }();
  std::string grid_ = "768x1152";
  std::string precision_ = "fp32";
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchTrainCommand)
CLIMSEG_REGISTER_COMMAND(BenchPredictCommand)
}  // namespace climseg::app
