// Training-step and prediction benchmarks (the PyTorch peer is started by apps/bench_train.cpp).
#include "models/training/bench.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <memory>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/median.hpp"
#include "core/threads.hpp"
#include "core/timer.hpp"
#include "models/nets/network.hpp"
#include "nn/bench_ops.hpp"
#include "nn/optim.hpp"
#include "parallel/grad_sync.hpp"

namespace climseg::training {
using nlohmann::json;

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

namespace {

std::unique_ptr<nets::Network> make_net(const BenchOptions& o) {
  nets::NetConfig c;
  c.type = o.model;
  c.channels.clear();
  for (int64_t i = 0; i < o.channels; ++i) c.channels.push_back(fmt::format("c{}", i));
  c.classes.clear();
  for (int64_t i = 0; i < o.classes; ++i) c.classes.push_back(fmt::format("k{}", i));
  c.padding = o.model == "cgnet" ? "circular" : "spherical";
  return nets::make_network(c);
}

void fill_random(float* x, int64_t n, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x[i] = float(int64_t(s % 2001) - 1000) / 500.0f;
  }
}

// The fields every bench train/predict line has: workload, timing, memory, BLAS core.
json report(const char* kind, const BenchOptions& o, const Comm& comm, const std::vector<double>& times,
            const nn::Parameters& params, const nn::Graph& g) {
  return {{"bench", kind},
          {"model", o.model},
          {"grid", fmt::format("{}x{}", o.height, o.width)},
          {"batch", o.batch},
          {"threads", num_threads()},
          {"ranks", comm.size()},
          {"steps", o.steps},
          {"median_s", median(times)},
          {"min_s", *std::min_element(times.begin(), times.end())},
          {"samples_per_s", double(o.batch) / median(times)},
          {"parameters", params.count()},
          {"arena_mb", double(g.arena_bytes()) / 1e6},
          {"peak_rss_mb", peak_rss_mb()},
          {"blas_core", blas_core_name()}};
}

// Each node's forward and backward seconds in every timed step, from the graph's cumulative profile
// (read after each step, outside its time).
struct StepProfiles {
  std::vector<nn::NodeProfile> last;
  std::vector<std::vector<double>> fwd, bwd;  // [node][step]
  void record(const nn::Graph& g) {
    std::vector<nn::NodeProfile> p = g.profile();
    fwd.resize(p.size()), bwd.resize(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      fwd[i].push_back(p[i].forward_s - (last.empty() ? 0.0 : last[i].forward_s));
      bwd[i].push_back(p[i].backward_s - (last.empty() ? 0.0 : last[i].backward_s));
    }
    last = std::move(p);
  }
  // The profile of one step made of each node's median times.
  std::vector<nn::NodeProfile> medians() const {
    std::vector<nn::NodeProfile> p = last;
    for (size_t i = 0; i < p.size(); ++i) p[i].forward_s = median(fwd[i]), p[i].backward_s = median(bwd[i]);
    return p;
  }
};

// The step's roofline: each op's median over the timed steps (and `extra` ops) against bench ops'
// roofs measured now, the best of two rounds (one for quick): a roof is what the machine can do,
// and a round that another process slowed down would understate it.
void add_roofline(json& r, const BenchOptions& o, const Comm& comm, const StepProfiles& prof,
                  const std::vector<double>& times, std::vector<nn::StepOp> extra) {
  if (o.roofline == "off" || comm.size() > 1) return;
  const bool quick = o.roofline == "quick";
  double sgemm = 0, copy = 0;
  for (int round = 0; round < (quick ? 1 : 2); ++round) {
    sgemm = std::max(sgemm, nn::sgemm_gflops(quick ? 512 : 2048));
    copy = std::max(copy, nn::copy_bandwidth_gbs(quick ? 16 : 256));
  }
  std::vector<nn::StepOp> ops = nn::step_ops(prof.medians(), 1);
  for (auto& e : extra) ops.push_back(std::move(e));
  r["roofline"] = nn::step_roofline_json(ops, median(times), sgemm, copy);
  if (quick) r["roofline"]["roofs"] = r["roofline"]["roofs"].get<std::string>() + " (--roofline quick: small arrays)";
  if (o.precision == nn::Precision::bf16)
    r["roofline"]["roofs"] = r["roofline"]["roofs"].get<std::string>() +
                             "; bf16 run: its bf16 convolutions are held to the fp32 SGEMM roof (no bf16 GEMM roof "
                             "is measured; AVX512-BF16's peak is about 2x fp32's, so the fraction flatters them)";
}

}  // namespace

void add_peer(json& r, const json& peer) {
  if (peer.is_null()) return;
  r["peer"] = peer.value("peer", "pytorch");
  r["peer_median_s"] = peer["median_s"];
  for (const char* k : {"median_s_default_allocator", "median_s_keep_memory", "median_s_allocator"})
    if (peer.contains(k)) r[std::string("peer_") + k] = peer[k];
  r["peer_peak_rss_mb"] = peer["peak_rss_mb"];
  r["speedup"] = peer["median_s"].get<double>() / r["median_s"].get<double>();
  r["memory_ratio"] = r["peak_rss_mb"].get<double>() / peer["peak_rss_mb"].get<double>();
}

json bench_train(const BenchOptions& o, const Comm& comm) {
  auto net = make_net(o);
  nn::Parameters params(*net, 1);
  nn::Graph g(&params, nn::Graph::Mode::train);
  nn::Value x = g.input("x", {o.batch, o.channels, o.height, o.width});
  nn::Value y = g.input_labels("y", {o.batch, o.height, o.width});
  nn::LossOptions lo;
  lo.class_weights = {0.35f, 1.6f, 1.2f};
  lo.class_weights.resize(static_cast<size_t>(o.classes), 1.0f);
  nn::Value loss = nn::cross_entropy(net->forward(x), y, lo);
  g.compile({loss}, loss);
  fill_random(g.tensor(x).data(), g.tensor(x).numel(), 7 + static_cast<uint64_t>(comm.rank()));
  int32_t* yl = g.labels(y);
  for (int64_t i = 0; i < o.batch * o.height * o.width; ++i) yl[i] = static_cast<int32_t>((i / 97) % o.classes);
  nn::Adam opt(params, {});
  parallel::GradSyncOptions gso;
  gso.bucket_bytes = std::max<int64_t>(4096, static_cast<int64_t>(o.bucket_mb * (1 << 20)));
  parallel::GradSync sync(params, g, comm, gso);
  const double comm_alone = comm.size() > 1 ? sync.calibrate(5) : 0.0;
  std::vector<double> times, fwd, bwd, exposed, imbalance, hidden;
  std::vector<double> adam_s;
  StepProfiles prof;
  json per_step = json::array();
  for (int64_t s = 0; s < o.warmup + o.steps; ++s) {
    g.set_profiling(s >= o.warmup && o.roofline != "off");  // per-node times of the timed steps
    comm.barrier();
    Stopwatch w;
    g.forward();
    const double f = w.seconds();
    sync.begin_backward();
    g.backward();
    sync.finish();
    const double a0 = w.seconds();
    opt.step(1e-3);
    if (s < o.warmup) continue;
    const double t = w.seconds();
    adam_s.push_back(t - a0);
    times.push_back(t);
    if (o.roofline != "off") prof.record(g);
    if (comm.size() > 1) {
      parallel::GradSyncSummary sum = parallel::summarize(sync.last(), comm);
      fwd.push_back(comm.max(f));
      bwd.push_back(sum.backward_s);
      exposed.push_back(sum.exposed_s);
      imbalance.push_back(sum.imbalance_s);
      hidden.push_back(sum.hidden_fraction);
      per_step.push_back({{"step", s - o.warmup},
                          {"forward_s", fwd.back()},
                          {"backward_s", sum.backward_s},
                          {"exposed_comm_s", sum.exposed_s},
                          {"imbalance_s", sum.imbalance_s},
                          {"hidden_fraction", sum.hidden_fraction},
                          {"buckets_done_in_backward", sum.buckets_done_in_backward},
                          {"buckets_started_in_backward", sum.buckets_started_in_backward}});
    }
  }
  json r = report("train", o, comm, times, params, g);
  add_roofline(r, o, comm, prof, times, {nn::adam_step_op(params.count(), median(adam_s))});
  if (comm.size() > 1) {
    const double step_s = median(times);
    r["gradient_mb"] = double(sync.last().bytes) / 1e6;
    r["buckets"] = sync.last().buckets;
    r["comm_alone_s"] = comm_alone;
    r["exposed_comm_s"] = median(exposed);
    r["exposed_fraction_of_step"] = median(exposed) / step_s;
    r["hidden_fraction"] = median(hidden);
    if (o.ranks_report) {
      r["ranks_report"] = {{"steps", per_step},
                           {"median_forward_s", median(fwd)},
                           {"median_backward_s", median(bwd)},
                           {"median_exposed_comm_s", median(exposed)},
                           {"median_imbalance_s", median(imbalance)},
                           {"median_hidden_fraction", median(hidden)}};
    }
  }
  return r;
}

json bench_predict(const BenchOptions& o, const Comm& comm) {
  auto net = make_net(o);
  nn::Parameters params(*net, 1);
  nn::Graph g(&params, nn::Graph::Mode::eval);
  g.set_precision(o.precision);
  nn::Value x = g.input("x", {o.batch, o.channels, o.height, o.width});
  nn::Value prob = nn::softmax(net->forward(x));
  g.compile({prob});
  fill_random(g.tensor(x).data(), g.tensor(x).numel(), 3);
  std::vector<double> times;
  StepProfiles prof;
  for (int64_t s = 0; s < o.warmup + o.steps; ++s) {
    g.set_profiling(s >= o.warmup && o.roofline != "off");
    comm.barrier();
    Stopwatch w;
    g.forward();
    if (s < o.warmup) continue;
    times.push_back(w.seconds());
    if (o.roofline != "off") prof.record(g);
  }
  json r = report("predict", o, comm, times, params, g);
  r["precision"] = nn::precision_name(o.precision);
  add_roofline(r, o, comm, prof, times, {});
  return r;
}

}  // namespace climseg::training
