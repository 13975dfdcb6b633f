// `climseg bench allreduce`: gradient synchronisation on this machine under mpirun: raw allreduce
// times per message size (alpha-beta fit), and training steps with buckets overlapped with backward
// against the same steps reducing after backward (models/bench/allreduce.hpp; JSON lines, rank 0).
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/command.hpp"
#include "core/isa.hpp"
#include "core/mpi.hpp"
#include "core/threads.hpp"
#include "models/bench/allreduce.hpp"

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
    app.add_option("--model", o_.model, "Network type: cgnet, deeplabv3plus, unet")->capture_default_str();
    app.add_option("--net-params", o_.net_params, "The network's hyper-parameters as JSON, e.g. '{\"M\":3,\"N\":21}'");
    app.add_option("--grid", o_.grid, "HxW of the training samples")->capture_default_str();
    app.add_option("--batch", o_.batch, "Samples per rank")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--steps", o_.steps, "Timed steps per mode (medians reported)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--bucket-kib", o_.bucket_kib, "Gradient bucket size in KiB")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_flag("--hierarchical", o_.hierarchical,
                 "Reduce in the node, allreduce across node leaders, broadcast back");
    app.add_option("--ranks-per-node", o_.ranks_per_node,
                   "Hierarchical groups of this many consecutive ranks (0: shared memory)");
    app.add_option("--sizes", o_.sizes, "Message sizes (bytes) for the raw allreduce timings")->capture_default_str();
    app.add_flag("--no-steps", o_.no_steps, "Only the raw allreduce timings");
    app.add_flag("--per-step", o_.per_step, "Also one line per timed step (rank 0's timings)");
    app.add_option("--fail-rank", o_.fail_rank, "Testing aid: this rank throws at step --fail-step (the job must end)");
    app.add_option("--fail-step", o_.fail_step, "Testing aid: see --fail-rank")->check(CLI::NonNegativeNumber);
    app.footer(
        "Run under mpirun/srun with 2 or more ranks. Lines: kind=message (bytes, seconds, bus_gbs), kind=fit\n"
        "(alpha_us, beta_gbs of t = alpha + bytes/beta), kind=step per mode (overlap, overlap-no-hook-progress,\n"
        "after-backward: step_s, forward_s, backward_s, exposed_s (communication left after backward: the\n"
        "last-arriving rank's wait), imbalance_s, comm_s, hidden_fraction, exposed_fraction,\n"
        "speedup_vs_after_backward). See docs/scaling.md.");
  }

  int run(const GlobalOptions& global) override {
    Comm world = Comm::world();
    o_.progress = !global.no_progress;
    const nlohmann::json base = {{"bench", "allreduce"}, {"ranks", world.size()}, {"threads", num_threads()}};
    bench::bench_allreduce(o_, world, [&](nlohmann::json j) {
      if (!world.is_root()) return;
      for (auto& [k, v] : base.items()) j[k] = v;
      j["isa"] = isa_name(active_isa());
      std::cout << j.dump() << "\n" << std::flush;
    });
    return 0;
  }

 private:
  bench::AllreduceBenchOptions o_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchAllreduceCommand)
}  // namespace climseg::app
