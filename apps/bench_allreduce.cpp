// `climseg bench allreduce`: gradient synchronisation on this machine under mpirun: raw allreduce
// times per message size (alpha-beta fit), and training steps with buckets overlapped with backward
// against the same steps reducing after backward (JSON lines on stdout, rank 0).
#include "parallel/bench_allreduce.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/progress.hpp"
#include "core/threads.hpp"
#include "models/nets/network.hpp"

namespace climseg::app {
namespace {

class BenchAllreduceCommand : public Command {
 public:
  std::string name() const override { return "allreduce"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "Gradient allreduce under mpirun: message times, and how much of it backward hides for a network";
  }
  void setup(CLI::App& app) override {
    app.add_option("--model", model_, "Network type: cgnet, deeplabv3plus, unet")->capture_default_str();
    app.add_option("--net-params", net_params_, "The network's hyper-parameters as JSON, e.g. '{\"M\":3,\"N\":21}'");
    app.add_option("--grid", grid_, "HxW of the training samples")->capture_default_str();
    app.add_option("--batch", batch_, "Samples per rank")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--steps", steps_, "Timed steps per mode (medians reported)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--bucket-kib", bucket_kib_, "Gradient bucket size in KiB")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_flag("--hierarchical", hierarchical_, "Reduce in the node, allreduce across node leaders, broadcast back");
    app.add_option("--ranks-per-node", ranks_per_node_,
                   "Hierarchical groups of this many consecutive ranks (0: shared memory)");
    app.add_option("--sizes", sizes_, "Message sizes (bytes) for the raw allreduce timings")->capture_default_str();
    app.add_flag("--no-steps", no_steps_, "Only the raw allreduce timings");
    app.add_flag("--per-step", per_step_, "Also one line per timed step (rank 0's timings)");
    app.add_option("--fail-rank", fail_rank_, "Testing aid: this rank throws at step --fail-step (the job must end)");
    app.add_option("--fail-step", fail_step_, "Testing aid: see --fail-rank")->check(CLI::NonNegativeNumber);
    app.footer(
        "Run under mpirun/srun with 2 or more ranks. Lines: kind=message (bytes, seconds, bus_gbs), kind=fit\n"
        "(alpha_us, beta_gbs of t = alpha + bytes/beta), kind=step per mode (overlap, overlap-no-hook-progress,\n"
        "after-backward: step_s, forward_s, backward_s, exposed_s (communication left after backward: the\n"
        "last-arriving rank's wait), imbalance_s, comm_s, hidden_fraction, exposed_fraction,\n"
        "speedup_vs_after_backward). See docs/scaling.md.");
  }

  int run(const GlobalOptions& global) override {
    Comm world = Comm::world();
    long h = 0, w = 0;
    if (std::sscanf(grid_.c_str(), "%ldx%ld", &h, &w) != 2 || h < 8 || w < 8)
      fail_usage("--grid {}: expected HxW, e.g. 192x288", grid_);
    if (fail_rank_ >= world.size()) fail_usage("--fail-rank {}: the job has {} rank(s)", fail_rank_, world.size());
    if (world.size() == 1)
      log::warn("bench allreduce: one rank, nothing to reduce; run it under mpirun -n 2 (or more)");
    const int threads = num_threads();
    nlohmann::json base = {{"bench", "allreduce"}, {"ranks", world.size()}, {"threads", threads}};
    auto emit = [&](nlohmann::json j) {
      if (!world.is_root()) return;
      for (auto& [k, v] : base.items()) j[k] = v;
      j["isa"] = isa_name(active_isa());
      std::cout << j.dump() << "\n" << std::flush;
    };

    std::vector<std::pair<int64_t, double>> points;
    for (int64_t bytes : sizes_) {
      if (bytes < 4) fail_usage("--sizes: {} bytes is less than one float", bytes);
      const double t = parallel::time_allreduce(world, bytes, 20);
      points.emplace_back(bytes, t);
      const int p = world.size();
      // Bus bandwidth (NCCL's convention): what each rank sends and receives in a ring allreduce.
      const double bus = t > 0 ? 2.0 * (p - 1) / p * double(bytes) / t / 1e9 : 0.0;
      emit({{"kind", "message"}, {"bytes", bytes}, {"seconds", t}, {"bus_gbs", bus}});
    }
    if (points.size() >= 2) {
      auto [alpha, beta] = parallel::fit_alpha_beta(points);
      emit({{"kind", "fit"}, {"alpha_us", alpha * 1e6}, {"beta_gbs", beta / 1e9}});
    }
    if (no_steps_) return 0;

    nets::NetConfig cfg;
    cfg.type = model_;
    if (!net_params_.empty()) {
      try {
        cfg.params = nlohmann::json::parse(net_params_);
      } catch (const std::exception& e) {
        fail_usage("--net-params: not JSON ({})", e.what());
      }
    }
    cfg = nets::NetConfig::from_json(cfg.to_json());
    auto net = nets::make_network(cfg);
    const int64_t m = net->size_multiple();
    if (h % m || w % m) fail_usage("--grid {}: {} needs multiples of {}", grid_, model_, m);
    nn::Parameters params(*net, 1);
    parallel::StepBenchOptions o;
    o.batch = batch_;
    o.channels = cfg.in_channels();
    o.classes = cfg.num_classes();
    o.height = h;
    o.width = w;
    o.steps = steps_;
    o.sync.bucket_bytes = bucket_kib_ * 1024;
    o.sync.hierarchical = hierarchical_;
    o.sync.ranks_per_node = ranks_per_node_;
    o.fail_rank = fail_rank_;
    o.fail_step = fail_step_;
    Progress progress("bench allreduce", 3 * (o.warmup + o.steps), !global.no_progress);
    auto results = parallel::bench_training_steps(
        params, [&](nn::Value x) { return net->forward(x); }, world, o,
        [&](const std::string& mode, int) { progress.advance(1, mode); });
    progress.finish();
    const double baseline = results.back().step_s;  // after-backward
    for (const auto& r : results) {
      const double samples = double(world.size() * batch_);
      emit({{"kind", "step"},
            {"model", model_},
            {"grid", grid_},
            {"batch_per_rank", batch_},
            {"parameters", params.count()},
            {"gradient_bytes", params.size() * 4},
            {"buckets", r.buckets},
            {"bucket_kib", bucket_kib_},
            {"hierarchical", hierarchical_},
            {"mode", r.mode},
            {"step_s", r.step_s},
            {"forward_s", r.forward_s},
            {"backward_s", r.backward_s},
            {"exposed_s", r.exposed_s},
            {"imbalance_s", r.imbalance_s},
            {"optimizer_s", r.optimizer_s},
            {"comm_s", r.comm_s},
            {"hidden_fraction", r.hidden_fraction},
            {"exposed_fraction", r.exposed_fraction},
            {"buckets_done_in_backward", r.buckets_done_in_backward},
            {"compute_per_sample_s", (r.forward_s + r.backward_s + r.optimizer_s) / double(batch_)},
            {"samples_per_s", samples / r.step_s},
            {"speedup_vs_after_backward", baseline / r.step_s}});
      if (per_step_)
        for (size_t i = 0; i < r.per_step.size(); ++i) {
          const auto& t = r.per_step[i];
          emit({{"kind", "step_detail"},
                {"mode", r.mode},
                {"step", i},
                {"backward_s", t.backward_s},
                {"hook_s", t.hook_s},
                {"first_ready_s", t.first_ready_s},
                {"last_ready_s", t.last_ready_s},
                {"wait_s", t.wait_s},
                {"comm_s", t.comm_s},
                {"hidden_fraction", t.hidden_fraction},
                {"buckets_done_in_backward", t.buckets_done_in_backward}});
        }
    }
    return 0;
  }

 private:
  std::string model_ = "cgnet", net_params_, grid_ = "192x288";
  int64_t batch_ = 2, bucket_kib_ = 1024;
  int steps_ = 5, ranks_per_node_ = 0, fail_rank_ = -1, fail_step_ = -1;
  bool hierarchical_ = false, no_steps_ = false, per_step_ = false;
  std::vector<int64_t> sizes_ = {4096, 65536, 1 << 20, 2 << 20, 8 << 20};
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchAllreduceCommand)
}  // namespace climseg::app
