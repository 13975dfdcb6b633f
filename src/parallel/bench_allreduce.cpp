// The gradient-synchronisation benchmark: raw allreduce latency/bandwidth and overlapped training steps.
#include "parallel/bench_allreduce.hpp"

#include <algorithm>
#include <memory>

#include "core/error.hpp"
#include "core/median.hpp"
#include "core/tensor.hpp"
#include "core/timer.hpp"
#include "nn/ops.hpp"
#include "nn/optim.hpp"
#include "parallel/mpi_util.hpp"

namespace climseg::parallel {

double time_allreduce(const Comm& comm, int64_t bytes, int repeats) {
  if (!comm.is_mpi() || comm.size() == 1) return 0;
  Tensor buf = Tensor::full({std::max<int64_t>(1, bytes / 4)}, 1.0f);
  std::vector<double> t;
  for (int r = 0; r < repeats + 1; ++r) {
    comm.barrier();
    const double t0 = now_seconds();
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(buf.numel()), MPI_FLOAT, MPI_SUM, comm.handle()),
              "allreduce");
    if (r > 0) t.push_back(now_seconds() - t0);  // the first call sets up connections
  }
  return slowest_rank_upper_median(t, comm);
}

std::pair<double, double> fit_alpha_beta(const std::vector<std::pair<int64_t, double>>& points) {
  const double n = double(points.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (auto [x, y] : points) {
    sx += double(x), sy += y, sxx += double(x) * double(x), sxy += double(x) * y;
  }
  const double den = n * sxx - sx * sx;
  if (points.size() < 2 || den <= 0) return {0, 0};
  const double b = (n * sxy - sx * sy) / den;
  const double a = (sy - b * sx) / n;
  return {a, b > 0 ? 1.0 / b : 0};
}

std::vector<StepBenchResult> bench_training_steps(nn::Parameters& params,
                                                  const std::function<nn::Value(nn::Value)>& forward, const Comm& comm,
                                                  const StepBenchOptions& o,
                                                  const std::function<void(const std::string&, int)>& on_step) {
  nn::Graph g(&params, nn::Graph::Mode::train);
  nn::Value x = g.input("x", {o.batch, o.channels, o.height, o.width});
  nn::Value y = g.input_labels("y", {o.batch, o.height, o.width});
  nn::Value loss = nn::cross_entropy(forward(x), y);
  g.compile({loss}, loss);
  float* xp = g.tensor(x).data();
  int32_t* yp = g.labels(y);
  const auto seed = static_cast<uint64_t>(comm.rank());
  for (int64_t i = 0; i < g.tensor(x).numel(); ++i) xp[i] = nn::random_normal(seed, 1, uint64_t(i));
  for (int64_t i = 0; i < o.batch * o.height * o.width; ++i)
    yp[i] = static_cast<int32_t>(nn::random_uniform(seed, 2, uint64_t(i)) * float(o.classes)) % int32_t(o.classes);

  // The three modes take turns step by step, so a machine whose load drifts (other jobs) affects
  // them alike and their ratio stays meaningful.
  const std::vector<std::string> modes = {"overlap", "overlap-no-hook-progress", "after-backward"};
  std::vector<std::unique_ptr<GradSync>> syncs;
  for (const std::string& mode : modes) {
    GradSyncOptions so = o.sync;
    so.progress_in_hook = mode != "overlap-no-hook-progress";
    syncs.push_back(std::make_unique<GradSync>(params, comm, so));
    syncs.back()->calibrate(5);
  }
  nn::Adam opt(params, {});
  struct Series {
    std::vector<double> step, fwd, bwd, exposed, imbalance, optim, done;
  };
  std::vector<Series> series(modes.size());
  std::vector<StepBenchResult> out(modes.size());
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    for (size_t m = 0; m < modes.size(); ++m) {
      GradSync& sync = *syncs[m];
      if (modes[m] == "after-backward")
        g.on_grad_ready(nullptr);  // nothing starts during backward: finish() reduces every bucket
      else
        sync.attach(g);
      comm.barrier();  // each step starts together, so waits measure communication, not skew
      const double t0 = now_seconds();
      g.forward();
      const double t1 = now_seconds();
      if (comm.rank() == o.fail_rank && s == o.fail_step) fail("injected failure at step {} (--fail-rank)", s);
      sync.begin_backward();
      g.backward();
      sync.finish();
      const double t2 = now_seconds();
      opt.step(1e-4);
      const double t3 = now_seconds();
      if (s >= o.warmup) {
        const GradSyncTimings& t = sync.last();
        const GradSyncSummary sum = summarize(t, comm);
        out[m].per_step.push_back(t);
        Series& q = series[m];
        q.step.push_back(comm.max(t3 - t0));
        q.fwd.push_back(comm.max(t1 - t0));
        q.bwd.push_back(sum.backward_s);
        q.exposed.push_back(sum.exposed_s);
        q.imbalance.push_back(sum.imbalance_s);
        q.optim.push_back(comm.max(t3 - t2));
        q.done.push_back(sum.buckets_done_in_backward);
      }
      if (on_step) on_step(modes[m], s);
    }
  }
  for (size_t m = 0; m < modes.size(); ++m) {
    StepBenchResult& r = out[m];
    const Series& q = series[m];
    r.mode = modes[m];
    r.buckets = static_cast<int>(syncs[m]->buckets().size());
    r.step_s = upper_median(q.step);
    r.forward_s = upper_median(q.fwd);
    r.backward_s = upper_median(q.bwd);
    r.exposed_s = upper_median(q.exposed);
    r.imbalance_s = upper_median(q.imbalance);
    r.optimizer_s = upper_median(q.optim);
    r.buckets_done_in_backward = static_cast<int>(upper_median(q.done));
    r.comm_s = syncs[m]->last().comm_s;
    r.hidden_fraction = r.comm_s > 0 ? std::clamp(1.0 - r.exposed_s / r.comm_s, 0.0, 1.0) : 0.0;
    r.exposed_fraction = r.step_s > 0 ? r.exposed_s / r.step_s : 0.0;
  }
  g.on_grad_ready(nullptr);
  return out;
}

}  // namespace climseg::parallel
