// Raw allreduce times and overlapped gradient synchronisation of a network's training steps.
#include "models/bench/allreduce.hpp"

#include <cstdio>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "models/nets/network.hpp"
#include "parallel/bench_allreduce.hpp"

namespace climseg::bench {
namespace {

nlohmann::json step_json(const AllreduceBenchOptions& o, const nn::Parameters& params,
                         const parallel::StepBenchResult& r, double baseline, int ranks) {
  const double samples = double(ranks * o.batch);
  return {{"kind", "step"},
          {"model", o.model},
          {"grid", o.grid},
          {"batch_per_rank", o.batch},
          {"parameters", params.count()},
          {"gradient_bytes", params.size() * 4},
          {"buckets", r.buckets},
          {"bucket_kib", o.bucket_kib},
          {"hierarchical", o.hierarchical},
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
          {"compute_per_sample_s", (r.forward_s + r.backward_s + r.optimizer_s) / double(o.batch)},
          {"samples_per_s", samples / r.step_s},
          {"speedup_vs_after_backward", baseline / r.step_s}};
}

nlohmann::json step_detail_json(const std::string& mode, size_t i, const parallel::GradSyncTimings& t) {
  return {{"kind", "step_detail"},
          {"mode", mode},
          {"step", i},
          {"backward_s", t.backward_s},
          {"hook_s", t.hook_s},
          {"first_ready_s", t.first_ready_s},
          {"last_ready_s", t.last_ready_s},
          {"wait_s", t.wait_s},
          {"comm_s", t.comm_s},
          {"hidden_fraction", t.hidden_fraction},
          {"buckets_done_in_backward", t.buckets_done_in_backward}};
}

}  // namespace

void bench_allreduce(const AllreduceBenchOptions& o, const Comm& comm,
                     const std::function<void(nlohmann::json)>& emit) {
  long h = 0, w = 0;
  if (std::sscanf(o.grid.c_str(), "%ldx%ld", &h, &w) != 2 || h < 8 || w < 8)
    fail_usage("--grid {}: expected HxW, e.g. 192x288", o.grid);
  if (o.fail_rank >= comm.size()) fail_usage("--fail-rank {}: the job has {} rank(s)", o.fail_rank, comm.size());
  if (comm.size() == 1) log::warn("bench allreduce: one rank, nothing to reduce; run it under mpirun -n 2 (or more)");

  std::vector<std::pair<int64_t, double>> points;
  for (int64_t bytes : o.sizes) {
    if (bytes < 4) fail_usage("--sizes: {} bytes is less than one float", bytes);
    const double t = parallel::time_allreduce(comm, bytes, 20);
    points.emplace_back(bytes, t);
    const int p = comm.size();
    // Bus bandwidth (NCCL's convention): what each rank sends and receives in a ring allreduce.
    const double bus = t > 0 ? 2.0 * (p - 1) / p * double(bytes) / t / 1e9 : 0.0;
    emit({{"kind", "message"}, {"bytes", bytes}, {"seconds", t}, {"bus_gbs", bus}});
  }
  if (points.size() >= 2) {
    auto [alpha, beta] = parallel::fit_alpha_beta(points);
    emit({{"kind", "fit"}, {"alpha_us", alpha * 1e6}, {"beta_gbs", beta / 1e9}});
  }
  if (o.no_steps) return;

  nets::NetConfig cfg;
  cfg.type = o.model;
  if (!o.net_params.empty()) {
    try {
      cfg.params = nlohmann::json::parse(o.net_params);
    } catch (const std::exception& e) {
      fail_usage("--net-params: not JSON ({})", e.what());
    }
  }
  cfg = nets::NetConfig::from_json(cfg.to_json());
  auto net = nets::make_network(cfg);
  const int64_t m = net->size_multiple();
  if (h % m || w % m) fail_usage("--grid {}: {} needs multiples of {}", o.grid, o.model, m);
  nn::Parameters params(*net, 1);
  parallel::StepBenchOptions so;
  so.batch = o.batch;
  so.channels = cfg.in_channels();
  so.classes = cfg.num_classes();
  so.height = h;
  so.width = w;
  so.steps = o.steps;
  so.sync.bucket_bytes = o.bucket_kib * 1024;
  so.sync.hierarchical = o.hierarchical;
  so.sync.ranks_per_node = o.ranks_per_node;
  so.fail_rank = o.fail_rank;
  so.fail_step = o.fail_step;
  Progress progress("bench allreduce", 3 * (so.warmup + so.steps), o.progress);
  auto results = parallel::bench_training_steps(
      params, [&](nn::Value x) { return net->forward(x); }, comm, so,
      [&](const std::string& mode, int) { progress.advance(1, mode); });
  progress.finish();
  const double baseline = results.back().step_s;  // after-backward
  for (const auto& r : results) {
    emit(step_json(o, params, r, baseline, comm.size()));
    if (o.per_step)
      for (size_t i = 0; i < r.per_step.size(); ++i) emit(step_detail_json(r.mode, i, r.per_step[i]));
  }
}

}  // namespace climseg::bench
